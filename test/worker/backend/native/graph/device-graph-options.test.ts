/**
 * deviceGraphOptions: on a GPU the compiled attack is one chain with cuDNN's
 * own padding, and the graphs carry no device annotations (TF's placer puts
 * them on the GPU; tfjs-node loads SavedModels without soft placement, so an
 * annotation would break ops without a GPU kernel). On a CPU: 2 chains and
 * the Eigen explicit-padding route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceGraphOptions } from '../../../../../worker/backend/native/graph/native-compiled-step.js';
import { buildSignAttackGraph } from '../../../../../worker/backend/native/graph/step-graphs.js';
import { SMALL_CNN_GRAPH_MODEL } from './_small-cnn-graph-model.js';
import { decodeSavedModel } from './_tf-protos.js';

const SMALL_CNN = SMALL_CNN_GRAPH_MODEL;

const cases = [
  { name: 'GPU: one chain, cuDNN padding', usesGpu: true, want: { eigenFewChannels: false, attackChains: 1 }, splits: 0, explicit: false },
  { name: 'CPU: two chains, Eigen explicit padding for the first layer', usesGpu: false, want: { eigenFewChannels: true, attackChains: 2 }, splits: 3, explicit: true },
];
for (const c of cases) {
  test(c.name, () => {
    const opts = deviceGraphOptions(c.usesGpu);
    assert.deepEqual(opts, c.want);
    const saved = buildSignAttackGraph(SMALL_CNN, 10, opts);
    const nodes = decodeSavedModel(saved).metaGraphs[0]?.graphDef?.node ?? [];
    // x, y and start are split per chain; one chain has no SplitV at all.
    assert.equal(nodes.filter((n) => n.op === 'SplitV').length, c.splits);
    const paddings = nodes.filter((n) => n.op === 'Conv2DBackpropInput').map((n) => new TextDecoder().decode(n.attr?.['padding']?.s));
    assert.equal(paddings.includes('EXPLICIT'), c.explicit, paddings.join(','));
    // No device annotation anywhere in the encoded graph.
    assert.equal(Buffer.from(saved).includes('/device:'), false);
  });
}
