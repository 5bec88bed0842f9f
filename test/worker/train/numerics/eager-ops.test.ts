import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { eagerOps } from '../../../../worker/train/numerics/eager-ops.js';
import { NUM_OPS_CASES } from './_num-ops-cases.js';

/** Max relative error allowed against the hand-computed values (l2Norm's sqrt rounds; the others are exact). */
const REL_TOL = 1e-6;

describe('eagerOps', () => {
  for (const c of NUM_OPS_CASES) {
    test(`${c.name}: ${c.want === undefined ? 'finite results' : 'the expected values'}, and no tensor left behind`, () => {
      const inputs = c.inputs.map((i) => tf.tensor(i.values as number[], i.shape as number[], 'float32'));
      try {
        const before = tf.memory().numTensors;
        const outs = tf.tidy(() => c.run(eagerOps, inputs));
        assert.equal(tf.memory().numTensors, before + outs.length, 'only the outputs remain');
        const got = outs.map((t) => Array.from(t.dataSync()));
        tf.dispose(outs);
        assert.equal(tf.memory().numTensors, before);
        got.forEach((vs, k) => vs.forEach((v, j) => assert.ok(Number.isFinite(v), `output ${k}[${j}] is ${v}`)));
        c.want?.forEach((want, k) => {
          assert.equal(got[k]!.length, want.length, `output ${k}`);
          want.forEach((w, j) => assert.ok(Math.abs(got[k]![j]! - w) <= REL_TOL * Math.max(1, Math.abs(w)), `output ${k}[${j}]: ${got[k]![j]} vs ${w}`));
        });
      } finally {
        tf.dispose(inputs);
      }
    });
  }
});
