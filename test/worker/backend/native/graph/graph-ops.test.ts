/**
 * The graph lowering of NumOps against the eager one, on the tensorflow
 * backend (the same kernels): every case of the shared table, bit for bit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder, SAVED_MODEL_TAG } from '../../../../../worker/backend/native/graph/graph-def.js';
import { GraphOps } from '../../../../../worker/backend/native/graph/graph-ops.js';
import type { SavedModelBackend } from '../../../../../worker/backend/native/graph/native-compiled-step.js';
import { eagerOps } from '../../../../../worker/train/numerics/eager-ops.js';
import { initBackends, skipIfUnavailable } from '../../_compare.js';
import { NUM_OPS_CASES, type NumOpsCase } from '../../../train/numerics/_num-ops-cases.js';

/** Builds `c` as a graph (inputs in_0.., outputs out_0..), runs it on `inputs`, and returns the outputs' values. */
function runAsGraph(c: NumOpsCase, inputs: readonly tf.Tensor[]): Float32Array[] {
  const backend = tf.backend() as unknown as SavedModelBackend;
  const g = new GraphBuilder();
  const xs = c.inputs.map((_, i) => g.add('Placeholder', [], { dtype: { type: 'float32' } }, `in_${i}`));
  const outs = c.run(new GraphOps(g), xs).map((node, k) => g.add('Identity', [node], { T: { type: 'float32' } }, `out_${k}`));
  const dir = mkdtempSync(join(tmpdir(), 'dat-graph-ops-test-'));
  let id: number | undefined;
  try {
    writeFileSync(join(dir, 'saved_model.pb'), g.encodeSavedModel());
    id = backend.loadSavedModelMetaGraph(dir, SAVED_MODEL_TAG);
    const results = backend.runSavedModel(id, [...inputs], xs.map((name) => ({ name: `${name}:0` })), outs.map((name) => `${name}:0`));
    const values = results.map((t) => t.dataSync() as Float32Array);
    tf.dispose(results);
    return values;
  } finally {
    if (id !== undefined) backend.deleteSavedModel(id);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('GraphOps against eagerOps (tensorflow backend)', () => {
  before(initBackends);
  after(async () => {
    await tf.setBackend('cpu');
  });

  for (const c of NUM_OPS_CASES) {
    test(`${c.name}: the graph computes the eager values exactly`, async (t) => {
      if (skipIfUnavailable(t, 'tensorflow')) return;
      await tf.setBackend('tensorflow');
      const inputs = c.inputs.map((i) => tf.tensor(i.values as number[], i.shape as number[], 'float32'));
      try {
        const eager = tf.tidy(() => c.run(eagerOps, inputs)).map((out) => {
          const v = out.dataSync() as Float32Array;
          out.dispose();
          return v;
        });
        const graph = runAsGraph(c, inputs);
        assert.equal(graph.length, eager.length);
        graph.forEach((g, k) => assert.deepEqual(g, eager[k], `output ${k}`));
      } finally {
        tf.dispose(inputs);
      }
    });
  }
});
