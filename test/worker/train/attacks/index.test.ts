import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ATTACKS, type AttackId } from '../../../../common/contract.js';
import { ConfigError } from '../../../../common/errors.js';
import { createModel } from '../../../../worker/train/models/index.js';
import { attackParamNames, getAttack, validateAttackParams, type AttackParams } from '../../../../worker/train/attacks/index.js';
import { crossEntropyPerExample, klDivergencePerExample } from '../../../../worker/train/losses.js';

await tf.setBackend('cpu');

type RealAttack = Exclude<AttackId, 'none'>;
const SHAPE = [8, 8, 1] as const;
const N = 12;
const TOL = 1e-6;

interface Case {
  readonly id: RealAttack;
  readonly norm: 'linf' | 'l2';
  readonly p: AttackParams;
  /** The attack's objective: CE for the CE attacks, KL to the clean prediction for TRADES. */
  readonly objective: 'ce' | 'kl';
  /** Whether the attack draws random numbers (so restarts can differ). */
  readonly random: boolean;
}

const base: AttackParams = { eps: 0.1, steps: 5, stepSize: 0.03, restarts: 1, randomStart: true, seed: 7 };
const cases: readonly Case[] = [
  { id: 'fgsm', norm: 'linf', p: base, objective: 'ce', random: false },
  { id: 'fgsm-rs', norm: 'linf', p: { ...base, stepSize: 0.125 }, objective: 'ce', random: true },
  { id: 'pgd', norm: 'linf', p: base, objective: 'ce', random: true },
  { id: 'pgd-l2', norm: 'l2', p: { ...base, eps: 0.5, stepSize: 0.15 }, objective: 'ce', random: true },
  { id: 'trades', norm: 'linf', p: base, objective: 'kl', random: true },
];

// A small CNN at random init, and MNIST-like inputs: a third of the pixels exactly 0, some exactly 1.
const model = createModel('small-cnn', SHAPE, 10, 1);
const x = tf.tidy(() => {
  const u = tf.randomUniform([N, ...SHAPE], -0.5, 1.5, 'float32', 11);
  return tf.clipByValue(u, 0, 1) as tf.Tensor4D;
});
const y = tf.tensor1d(
  Array.from({ length: N }, (_, i) => i % 10),
  'int32',
);

function objectivePerExample(kind: 'ce' | 'kl', xAdv: tf.Tensor4D): Float32Array {
  const t = tf.tidy(() => {
    const logits = model.apply(xAdv, { training: false }) as tf.Tensor2D;
    if (kind === 'ce') return crossEntropyPerExample(logits, y);
    return klDivergencePerExample(model.apply(x, { training: false }) as tf.Tensor2D, logits);
  });
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

function mean(a: Float32Array): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}

function run(c: Case, p: AttackParams = c.p): tf.Tensor4D {
  const attack = getAttack(c.id);
  assert.ok(attack, `attack ${c.id} exists`);
  return attack(model, x, y, p);
}

test('every attack id but none resolves; none gives undefined', () => {
  for (const id of ATTACKS) assert.equal(getAttack(id) === undefined, id === 'none', id);
  assert.deepEqual(attackParamNames('none'), []);
});

for (const c of cases) {
  test(`${c.id}: stays in the ${c.norm} eps-ball and in [0, 1], raises its objective, leaks nothing`, () => {
    const before = tf.memory().numTensors;
    const xAdv = run(c);
    assert.equal(tf.memory().numTensors, before + 1, 'only the result survives');
    assert.deepEqual(xAdv.shape, x.shape);
    assert.equal(xAdv.dtype, 'float32');

    const [dist, lo, hi] = tf.tidy(() => {
      const d = tf.sub(xAdv, x).reshape([N, -1]);
      const dist = c.norm === 'linf' ? tf.max(tf.abs(d)) : tf.max(tf.norm(d, 'euclidean', 1));
      return [dist.dataSync()[0]!, tf.min(xAdv).dataSync()[0]!, tf.max(xAdv).dataSync()[0]!];
    });
    assert.ok(dist <= c.p.eps + TOL, `distance ${dist} exceeds eps ${c.p.eps}`);
    assert.ok(dist > c.p.eps / 4, `distance ${dist}: the attack barely moved`);
    assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}] outside [0, 1]`);

    const clean = mean(objectivePerExample(c.objective, x));
    const adv = mean(objectivePerExample(c.objective, xAdv));
    assert.ok(adv > clean, `mean ${c.objective} ${adv} not above clean ${clean}`);
    // The model is untouched.
    const w0 = model.getWeights()[0]!.dataSync().slice(0, 4);
    xAdv.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(model.getWeights()[0]!.dataSync().slice(0, 4), w0);
  });

  test(`${c.id}: restarts never lower the per-example objective; same seed, same result`, () => {
    const one = run(c);
    const three = run(c, { ...c.p, restarts: 3 });
    const again = run(c);
    const other = run(c, { ...c.p, seed: c.p.seed + 1 });
    try {
      const l1 = objectivePerExample(c.objective, one);
      const l3 = objectivePerExample(c.objective, three);
      for (let i = 0; i < N; i++) assert.ok(l3[i]! >= l1[i]! - 1e-5, `example ${i}: ${l3[i]} < ${l1[i]}`);
      assert.deepEqual(again.dataSync(), one.dataSync());
      if (c.random) assert.notDeepEqual(other.dataSync(), one.dataSync());
    } finally {
      tf.dispose([one, three, again, other]);
    }
  });
}

test('pgd without a random start is deterministic in the seed; its steps move by stepSize at most', () => {
  const p: AttackParams = { ...base, randomStart: false, steps: 1, eps: 0.5 };
  const a = run(cases[2]!, p);
  const b = run(cases[2]!, { ...p, seed: 99 });
  try {
    assert.deepEqual(a.dataSync(), b.dataSync());
    const step = tf.tidy(() => tf.max(tf.abs(tf.sub(a, x))).dataSync()[0]!);
    assert.ok(Math.abs(step - p.stepSize) < TOL, `one step moved ${step}`);
  } finally {
    tf.dispose([a, b]);
  }
});

test('attacks run BatchNorm in inference mode and leave its statistics alone', () => {
  const bnModel = createModel('preact-resnet', [8, 8, 3], 10, 2);
  const xs = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const ys = tf.tensor1d([1, 2], 'int32');
  const weightsBefore = bnModel.getWeights().map((w) => w.dataSync().slice());
  const before = tf.memory().numTensors;
  const xAdv = getAttack('pgd')!(bnModel, xs, ys, { ...base, steps: 2 });
  xAdv.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(
    bnModel.getWeights().map((w) => w.dataSync().slice()),
    weightsBefore,
  );
  tf.dispose([xs, ys]);
  bnModel.dispose();
});

interface BadCase {
  readonly id: RealAttack;
  readonly field: keyof AttackParams;
  readonly value: unknown;
}
const bad: readonly BadCase[] = [
  { id: 'fgsm', field: 'eps', value: 0 },
  { id: 'fgsm', field: 'eps', value: Number.NaN },
  { id: 'fgsm-rs', field: 'stepSize', value: -1 },
  { id: 'fgsm-rs', field: 'restarts', value: 0 },
  { id: 'pgd', field: 'steps', value: 0 },
  { id: 'pgd', field: 'steps', value: 2.5 },
  { id: 'pgd', field: 'restarts', value: 0 },
  { id: 'pgd', field: 'randomStart', value: 'yes' },
  { id: 'pgd', field: 'seed', value: 0.5 },
  { id: 'pgd-l2', field: 'eps', value: -0.5 },
  { id: 'pgd-l2', field: 'stepSize', value: Infinity },
  { id: 'trades', field: 'steps', value: -3 },
  { id: 'trades', field: 'eps', value: 0 },
];
for (const b of bad) {
  test(`${b.id} rejects ${b.field}=${String(b.value)} naming both`, () => {
    const p = { ...base, [b.field]: b.value } as AttackParams;
    const want = (e: unknown): boolean => e instanceof ConfigError && e.message.startsWith(`attack ${b.id}: ${b.field} must be`);
    assert.throws(() => validateAttackParams(b.id, p), want);
    const before = tf.memory().numTensors;
    assert.throws(() => getAttack(b.id)!(model, x, y, p), want);
    assert.equal(tf.memory().numTensors, before);
  });
}

test('fgsm ignores the parameters it does not read; none accepts anything', () => {
  const ignored = { ...base, steps: 0, stepSize: -1, restarts: 0 };
  assert.doesNotThrow(() => validateAttackParams('fgsm', ignored));
  assert.doesNotThrow(() => validateAttackParams('none', { ...ignored, eps: -1 }));
});

test('attacks reject mismatched labels', () => {
  const wrong = tf.tensor1d([1, 2, 3], 'int32');
  const floats = tf.zeros([N]) as tf.Tensor1D;
  assert.throws(() => getAttack('pgd')!(model, x, wrong, base), /attack pgd: y must hold 12 labels/);
  assert.throws(() => getAttack('fgsm')!(model, x, floats, base), /attack fgsm: y must be int32/);
  tf.dispose([wrong, floats]);
});
