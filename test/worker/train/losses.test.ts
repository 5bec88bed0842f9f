import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { LossId } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import { computeLoss, crossEntropyPerExample, klDivergencePerExample } from '../../../worker/train/losses.js';

await tf.setBackend('cpu');

// Plain-JS references.
const softmax = (z: readonly number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const ce = (z: readonly number[], y: number): number => -Math.log(softmax(z)[y]!);
const kl = (p: readonly number[], q: readonly number[]): number => {
  const [sp, sq] = [softmax(p), softmax(q)];
  return sp.reduce((s, v, k) => s + v * Math.log(v / sq[k]!), 0);
};
const mean = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

const ADV = [
  [1, 2, 3],
  [0, 0, 0],
];
const CLEAN = [
  [2, 0.5, -1],
  [0.3, 0.1, 4],
];
const Y = [2, 1];

test('per-example CE and KL match the formulas (CE of [1,2,3] at class 2 is 0.4076)', () => {
  const got = tf.tidy(() => crossEntropyPerExample(tf.tensor2d(ADV), tf.tensor1d(Y, 'int32'))).arraySync();
  assert.ok(Math.abs(got[0]! - 0.40760596) < 1e-6);
  assert.ok(Math.abs(got[1]! - Math.log(3)) < 1e-6);
  const k = tf.tidy(() => klDivergencePerExample(tf.tensor2d(CLEAN), tf.tensor2d(ADV))).arraySync();
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(k[i]! - kl(CLEAN[i]!, ADV[i]!)) < 1e-6);
  const self = tf.tidy(() => klDivergencePerExample(tf.tensor2d(CLEAN), tf.tensor2d(CLEAN))).arraySync();
  assert.ok(self.every((v) => Math.abs(v) < 1e-6));
});

interface Case {
  readonly kind: LossId;
  readonly lambda: number;
  readonly beta: number;
  readonly want: number;
}
const ceAdv = mean(ADV.map((z, i) => ce(z, Y[i]!)));
const ceClean = mean(CLEAN.map((z, i) => ce(z, Y[i]!)));
const klMean = mean(CLEAN.map((z, i) => kl(z, ADV[i]!)));
const cases: readonly Case[] = [
  { kind: 'adv', lambda: 1, beta: 6, want: ceAdv },
  { kind: 'adv-clean', lambda: 1, beta: 6, want: ceAdv + ceClean },
  { kind: 'adv-clean', lambda: 0.5, beta: 6, want: ceAdv + 0.5 * ceClean },
  { kind: 'trades', lambda: 1, beta: 6, want: ceClean + 6 * klMean },
  { kind: 'trades', lambda: 1, beta: 0, want: ceClean },
];
for (const c of cases) {
  test(`${c.kind} (lambda ${c.lambda}, beta ${c.beta}) = ${c.want.toFixed(6)}`, () => {
    const before = tf.memory().numTensors;
    const got = tf.tidy(() =>
      computeLoss(c.kind, { logitsAdv: tf.tensor2d(ADV), logitsClean: tf.tensor2d(CLEAN), labels: tf.tensor1d(Y, 'int32'), numClasses: 3, lambda: c.lambda, beta: c.beta }),
    );
    assert.deepEqual(got.shape, []);
    assert.ok(Math.abs(got.dataSync()[0]! - c.want) < 1e-5, `-want ${c.want} +got ${got.dataSync()[0]}`);
    got.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}

test('trades loss has gradients through both the clean and the adversarial logits', () => {
  const [gClean, gAdv] = tf.tidy(() => {
    const labels = tf.tensor1d(Y, 'int32');
    const f = (clean: tf.Tensor, adv: tf.Tensor): tf.Scalar =>
      computeLoss('trades', { logitsAdv: adv as tf.Tensor2D, logitsClean: clean as tf.Tensor2D, labels, numClasses: 3, lambda: 1, beta: 6 });
    return tf.grads(f)([tf.tensor2d(CLEAN), tf.tensor2d(ADV)]).map((g) => tf.max(tf.abs(g)).dataSync()[0]!);
  });
  assert.ok(gClean! > 0 && gAdv! > 0);
});

test('missing or misshapen logits and bad weights are refused naming the loss', () => {
  const labels = tf.tensor1d(Y, 'int32');
  const adv = tf.tensor2d(ADV);
  const wide = tf.zeros([2, 4]) as tf.Tensor2D;
  const base = { labels, numClasses: 3, lambda: 1, beta: 6 };
  const is = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);
  assert.throws(() => computeLoss('adv', base), is(/^loss adv: logitsAdv is required/));
  assert.throws(() => computeLoss('adv-clean', { ...base, logitsAdv: adv }), is(/^loss adv-clean: logitsClean is required/));
  assert.throws(() => computeLoss('trades', { ...base, logitsAdv: adv, logitsClean: wide }), is(/^loss trades: logitsClean must have shape \[2, 3\]/));
  assert.throws(() => computeLoss('adv-clean', { ...base, logitsAdv: adv, logitsClean: adv, lambda: -1 }), is(/^loss adv-clean: lambda must be/));
  assert.throws(() => computeLoss('trades', { ...base, logitsAdv: adv, logitsClean: adv, beta: Number.NaN }), is(/^loss trades: beta must be/));
  tf.dispose([labels, adv, wide]);
});
