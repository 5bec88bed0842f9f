import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { OptimizerId } from '../../../../common/contract.js';
import { ConfigError } from '../../../../common/errors.js';
import type { OptimizerUpdateArgs, OptimizerUpdateResult, OptimizerUpdater } from '../../../../worker/train/compiled-step.js';
import { createOptimizer, type OptimizerHyper } from '../../../../worker/train/optimizers/index.js';
import type { UpdateRule } from '../../../../worker/train/optimizers/types.js';

await tf.setBackend('cpu');

// Plain-JS reference updates, in float64, written from the formulas (not the code).
type Vec = number[];
const norm = (a: Vec): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
const zeros = (a: Vec): Vec => a.map(() => 0);

interface RefState {
  m: Vec;
  v: Vec;
  buf: Vec;
  t: number;
}
type RefStep = (w: Vec, g: Vec, lr: number, h: OptimizerHyper, s: RefState) => Vec;

/** DAT lamb.py: no bias correction, trust = clamp(|w|, 0, 10)/|u|. */
const refLamb: RefStep = (w, g, lr, h, s) => {
  const [b1, b2, eps] = [h.beta1 ?? 0.9, h.beta2 ?? 0.999, h.epsilon ?? 1e-6];
  s.t++;
  s.m = s.m.map((m, i) => b1 * m + (1 - b1) * g[i]!);
  // 1-bit LAMB: v stops changing after the warm-up's updates.
  if (h.freezeSecondMomentAfter === undefined || s.t <= h.freezeSecondMomentAfter) s.v = s.v.map((v, i) => b2 * v + (1 - b2) * g[i]! ** 2);
  const u = s.m.map((m, i) => m / (Math.sqrt(s.v[i]!) + eps) + h.weightDecay * w[i]!);
  const wn = Math.min(Math.max(norm(w), 0), 10);
  const un = norm(u);
  const trust = wn === 0 || un === 0 ? 1 : wn / un;
  return w.map((x, i) => x - lr * trust * u[i]!);
};

/** LARS, eta 0.001, then momentum SGD. */
const refLars: RefStep = (w, g, lr, h, s) => {
  const eps = h.epsilon ?? 1e-8;
  const wn = norm(w);
  const gn = norm(g);
  const trust = wn === 0 || gn === 0 ? 1 : (0.001 * wn) / (gn + h.weightDecay * wn + eps);
  const adapted = g.map((x, i) => (x + h.weightDecay * w[i]!) * trust);
  s.buf = s.buf.map((b, i) => h.momentum * b + adapted[i]!);
  return w.map((x, i) => x - lr * s.buf[i]!);
};

/** PyTorch SGD. */
const refSgd: RefStep = (w, g, lr, h, s) => {
  const d = g.map((x, i) => x + h.weightDecay * w[i]!);
  s.buf = s.t === 0 ? d : s.buf.map((b, i) => h.momentum * b + d[i]!);
  s.t++;
  return w.map((x, i) => x - lr * s.buf[i]!);
};

/** PyTorch Adam (L2 weight decay). */
const refAdam: RefStep = (w, g, lr, h, s) => {
  const [b1, b2, eps] = [h.beta1 ?? 0.9, h.beta2 ?? 0.999, h.epsilon ?? 1e-8];
  s.t++;
  const d = g.map((x, i) => x + h.weightDecay * w[i]!);
  s.m = s.m.map((m, i) => b1 * m + (1 - b1) * d[i]!);
  s.v = s.v.map((v, i) => b2 * v + (1 - b2) * d[i]! ** 2);
  return w.map((x, i) => x - (lr * (s.m[i]! / (1 - b1 ** s.t))) / (Math.sqrt(s.v[i]! / (1 - b2 ** s.t)) + eps));
};

const REFS: Record<OptimizerId, RefStep> = { lamb: refLamb, lars: refLars, sgd: refSgd, adam: refAdam };

interface Case {
  readonly name: string;
  readonly id: OptimizerId;
  readonly hyper: OptimizerHyper;
  /** Two variables (vectors); the same gradients are applied for each step. */
  readonly w: readonly Vec[];
  readonly g: readonly Vec[];
  readonly lr: number;
  /** Optional hand-computed result of the first step, checked as well. */
  readonly wantFirst?: readonly Vec[];
}

const W = [
  [1, 2, -2],
  [0.5, -0.25],
];
const G = [
  [0.1, -0.2, 0.3],
  [-0.05, 0.4],
];
const cases: readonly Case[] = [
  { name: 'lamb', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0 }, w: W, g: G, lr: 0.1 },
  {
    // |w| = 50 clamps to 10. First step: m = 0.1g, v = 0.001g², u = m/(|g|·0.0316..+1e-6) ≈ ±3.1623 (wd 0),
    // |u| = 3.1623·√2, trust = 10/|u|, w -= 0.1·trust·u = ±0.1·10/√2 = ±0.7071.
    name: 'lamb: weight norm clamped at 10',
    id: 'lamb',
    hyper: { weightDecay: 0, momentum: 0 },
    w: [[30, 40]],
    g: [[1, -1]],
    lr: 0.1,
    wantFirst: [[30 - 0.70710678, 40 + 0.70710678]],
  },
  {
    // |w| = 0: trust 1, w = -lr·u with u = 0.1g/(0.0316|g|+1e-6) ≈ 3.1622·sign(g).
    name: 'lamb: zero weights use trust 1',
    id: 'lamb',
    hyper: { weightDecay: 0.01, momentum: 0 },
    w: [[0, 0, 0]],
    g: [[0.5, -2, 0]],
    lr: 0.01,
    wantFirst: [[-0.031622, 0.031622, 0]],
  },
  { name: 'lamb: zero gradient and no decay leave w', id: 'lamb', hyper: { weightDecay: 0, momentum: 0 }, w: [[3, 4]], g: [[0, 0]], lr: 1, wantFirst: [[3, 4]] },
  { name: 'lamb: v frozen after the first update', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0, beta1: 0, freezeSecondMomentAfter: 1 }, w: W, g: G.map((g) => g.map((x) => 3 * x)), lr: 0.1 },
  { name: 'lamb: v frozen from the start', id: 'lamb', hyper: { weightDecay: 0, momentum: 0, freezeSecondMomentAfter: 0 }, w: W, g: G, lr: 0.1 },
  { name: 'lamb: custom betas and epsilon', id: 'lamb', hyper: { weightDecay: 1e-4, momentum: 0, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 }, w: W, g: G, lr: 0.05 },
  { name: 'lars', id: 'lars', hyper: { weightDecay: 5e-4, momentum: 0.9 }, w: W, g: G, lr: 10 },
  // |g| = 0: trust 1, and w -= lr·wd·w.
  { name: 'lars: zero gradient uses trust 1', id: 'lars', hyper: { weightDecay: 0.1, momentum: 0.9 }, w: [[3, 4]], g: [[0, 0]], lr: 1, wantFirst: [[2.7, 3.6]] },
  { name: 'lars: zero weights use trust 1', id: 'lars', hyper: { weightDecay: 0.1, momentum: 0 }, w: [[0, 0]], g: [[1, -2]], lr: 0.5, wantFirst: [[-0.5, 1]] },
  // First step: w - lr·(g + wd·w) = 1 - 0.1·(0.1 + 0.01) = 0.989.
  { name: 'sgd', id: 'sgd', hyper: { weightDecay: 0.01, momentum: 0.9 }, w: W, g: G, lr: 0.1, wantFirst: [[0.989, 2.018, -2.028], [0.5045, -0.28975]] },
  { name: 'sgd: no momentum', id: 'sgd', hyper: { weightDecay: 0, momentum: 0 }, w: W, g: G, lr: 0.5 },
  // First Adam step moves every coordinate by lr·sign(g) (up to eps).
  { name: 'adam', id: 'adam', hyper: { weightDecay: 0, momentum: 0 }, w: W, g: G, lr: 0.01, wantFirst: [[0.99, 2.01, -2.01], [0.51, -0.26]] },
  { name: 'adam: weight decay', id: 'adam', hyper: { weightDecay: 0.1, momentum: 0 }, w: W, g: G, lr: 0.01 },
];

function assertClose(got: ArrayLike<number>, want: readonly number[], what: string, tol = 2e-6): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const scale = Math.max(1, Math.abs(want[i]!));
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * scale, `${what}[${i}]: -want ${want[i]} +got ${got[i]}`);
  }
}

const STEPS = 3;
for (const c of cases) {
  test(`${c.name}: ${STEPS} updates match the hand computation`, () => {
    const opt = createOptimizer(c.id, c.hyper);
    const vars = c.w.map((w) => tf.variable(tf.tensor1d(w)));
    const grads = c.g.map((g) => tf.tensor1d(g));
    const ref = c.w.map((w) => ({ w: [...w], s: { m: zeros(w), v: zeros(w), buf: zeros(w), t: 0 } }));
    try {
      let numTensors = 0;
      for (let step = 1; step <= STEPS; step++) {
        opt.apply(vars, grads, c.lr);
        for (const [i, r] of ref.entries()) {
          r.w = REFS[c.id](r.w, c.g[i]!, c.lr, c.hyper, r.s);
          assertClose(vars[i]!.dataSync(), r.w, `step ${step} var ${i}`);
          if (step === 1 && c.wantFirst) assertClose(vars[i]!.dataSync(), c.wantFirst[i]!, `hand value, var ${i}`, 1e-5);
        }
        // State is created on the first update; after that nothing accumulates.
        if (step === 2) numTensors = tf.memory().numTensors;
        if (step === STEPS) assert.equal(tf.memory().numTensors, numTensors);
      }
    } finally {
      opt.dispose();
      tf.dispose([...vars, ...grads]);
    }
  });
}

for (const id of ['lamb', 'lars', 'sgd', 'adam'] as const) {
  test(`${id}: state survives getState/setState`, () => {
    const hyper: OptimizerHyper = { weightDecay: 0.01, momentum: 0.9 };
    const a = createOptimizer(id, hyper);
    const b = createOptimizer(id, hyper);
    const va = W.map((w) => tf.variable(tf.tensor1d(w)));
    const vb = W.map((w) => tf.variable(tf.tensor1d(w)));
    const grads = G.map((g) => tf.tensor1d(g));
    try {
      a.apply(va, grads, 0.1);
      b.apply(vb, grads, 0.1);
      const saved = a.getState();
      assert.equal(saved.id, id);
      assert.equal(saved.step, 1);
      assert.ok(saved.slots.length > 0 || id === 'sgd');
      // A fresh optimizer restored from the state continues exactly like the original.
      const restored = createOptimizer(id, hyper);
      restored.setState(saved);
      a.dispose();
      restored.apply(va, grads, 0.1);
      b.apply(vb, grads, 0.1);
      for (let i = 0; i < W.length; i++) assert.deepEqual(va[i]!.dataSync(), vb[i]!.dataSync());
      restored.dispose();
    } finally {
      a.dispose();
      b.dispose();
      tf.dispose([...va, ...vb, ...grads]);
    }
  });
}

test('lamb with freezeSecondMomentAfter keeps v bit for bit once frozen, and m moving', () => {
  const opt = createOptimizer('lamb', { weightDecay: 0, momentum: 0, freezeSecondMomentAfter: 2 });
  const vars = W.map((w) => tf.variable(tf.tensor1d(w)));
  const slot = (name: string): Float32Array => opt.getState().slots.find((x) => x.name === name)!.values;
  try {
    const states: { v: Float32Array; m: Float32Array }[] = [];
    for (let step = 1; step <= 4; step++) {
      const grads = G.map((g) => tf.tensor1d(g.map((x) => x * step)));
      opt.apply(vars, grads, 0.1);
      tf.dispose(grads);
      states.push({ v: slot('v/0'), m: slot('m/0') });
    }
    assert.notDeepEqual(states[1]!.v, states[0]!.v, 'v still moves at update 2');
    assert.deepEqual(states[2]!.v, states[1]!.v, 'update 3 leaves v');
    assert.deepEqual(states[3]!.v, states[1]!.v, 'update 4 leaves v');
    assert.notDeepEqual(states[3]!.m, states[2]!.m, 'm keeps moving');
  } finally {
    opt.dispose();
    tf.dispose(vars);
  }
});

for (const bad of [-1, 1.5, Number.NaN]) {
  test(`lamb refuses freezeSecondMomentAfter ${bad}`, () => {
    assert.throws(() => createOptimizer('lamb', { weightDecay: 0, momentum: 0, freezeSecondMomentAfter: bad }), (e: unknown) => e instanceof ConfigError && /freezeSecondMomentAfter/.test(e.message));
  });
}

test('restoring state from another optimizer or with bad sizes is refused', () => {
  const lamb = createOptimizer('lamb', { weightDecay: 0, momentum: 0 });
  assert.throws(() => lamb.setState({ id: 'adam', step: 1, slots: [] }), /optimizer lamb: cannot restore state saved by optimizer adam/);
  assert.throws(() => lamb.setState({ id: 'lamb', step: 1, slots: [{ name: 'm/0', shape: [3], values: new Float32Array(2) }] }), /state slot m\/0 has 2 values/);
  assert.throws(() => lamb.setState({ id: 'lamb', step: 1, slots: [{ name: 'momentum/0', shape: [1], values: new Float32Array(1) }] }), /unknown state slot/);
  lamb.dispose();
});

test('mismatched variables and gradients are refused', () => {
  const opt = createOptimizer('sgd', { weightDecay: 0, momentum: 0.9 });
  const v = tf.variable(tf.zeros([3]));
  const g = tf.zeros([2]);
  assert.throws(() => opt.apply([v], [], 0.1), /optimizer sgd: 1 variables but 0 gradients/);
  assert.throws(() => opt.apply([v], [g], 0.1), /optimizer sgd: gradient 0 has shape \[2\]/);
  assert.throws(() => opt.apply([v], [g], Number.NaN), /optimizer sgd: lr must be/);
  tf.dispose([v, g]);
  opt.dispose();
});

interface BadHyper {
  readonly id: OptimizerId;
  readonly hyper: OptimizerHyper;
  readonly arg: string;
}
const badHypers: readonly BadHyper[] = [
  { id: 'lamb', hyper: { weightDecay: -1, momentum: 0 }, arg: 'weightDecay' },
  { id: 'lamb', hyper: { weightDecay: 0, momentum: 0, beta1: 1 }, arg: 'beta1' },
  { id: 'adam', hyper: { weightDecay: 0, momentum: 0, beta2: -0.1 }, arg: 'beta2' },
  { id: 'adam', hyper: { weightDecay: 0, momentum: 0, epsilon: Number.NaN }, arg: 'epsilon' },
  { id: 'sgd', hyper: { weightDecay: 0, momentum: 1.5 }, arg: 'momentum' },
  { id: 'lars', hyper: { weightDecay: 0, momentum: -0.9 }, arg: 'momentum' },
];
for (const b of badHypers) {
  test(`${b.id} rejects a bad ${b.arg}`, () => {
    assert.throws(
      () => createOptimizer(b.id, b.hyper),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`optimizer ${b.id}: ${b.arg} must be`),
    );
  });
}

/** A stand-in compiled update (unit test only): new value = old + 1 for variables, + 10·(k + 1) for slot kind k; records its calls. */
class FakeUpdater implements OptimizerUpdater {
  readonly calls: { rule: UpdateRule; step: number; lr: number; slotKinds: number }[] = [];
  constructor(private readonly malformed = false) {}
  optimizerUpdate(a: OptimizerUpdateArgs): OptimizerUpdateResult {
    this.calls.push({ rule: a.rule, step: a.step, lr: a.lr, slotKinds: a.slots.length });
    const vars = a.vars.map((v) => tf.add(v, 1));
    return { vars: this.malformed ? vars.slice(1) : vars, slots: a.slots.map((s, k) => s.map((t) => tf.add(t, 10 * (k + 1)))) };
  }
}

const RULE_CASES: readonly { id: OptimizerId; hyper: OptimizerHyper; kinds: number }[] = [
  { id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0 }, kinds: 2 },
  { id: 'adam', hyper: { weightDecay: 0, momentum: 0 }, kinds: 2 },
  { id: 'sgd', hyper: { weightDecay: 0, momentum: 0.9 }, kinds: 1 },
  { id: 'sgd', hyper: { weightDecay: 0, momentum: 0 }, kinds: 0 },
  { id: 'lars', hyper: { weightDecay: 0, momentum: 0.9 }, kinds: 1 },
];
for (const c of RULE_CASES) {
  test(`${c.id} (momentum ${c.hyper.momentum}): a compiled update gets the rule, step and lr, and its results replace the variables and the state`, () => {
    const opt = createOptimizer(c.id, c.hyper);
    const vars = [tf.variable(tf.tensor1d([1, 2])), tf.variable(tf.tensor1d([3]))];
    const grads = [tf.tensor1d([0.5, 0.5]), tf.tensor1d([0.5])];
    const fake = new FakeUpdater();
    try {
      opt.apply(vars, grads, 0.1, fake);
      const before = tf.memory().numTensors;
      opt.apply(vars, grads, 0.2, fake);
      assert.equal(tf.memory().numTensors, before, 'nothing accumulates');
      assert.deepEqual(
        fake.calls.map((x) => ({ kind: x.rule.kind, step: x.step, lr: x.lr, slotKinds: x.slotKinds })),
        [1, 2].map((step) => ({ kind: c.id, step, lr: step / 10, slotKinds: c.kinds })),
      );
      assert.deepEqual(opt.rule, fake.calls[0]!.rule);
      assert.deepEqual(Array.from(vars[0]!.dataSync()), [3, 4]);
      assert.deepEqual(Array.from(vars[1]!.dataSync()), [5]);
      const state = opt.getState();
      assert.equal(state.step, 2);
      // Zero-initialized, then +10·(k+1) twice; listed variable by variable as the eager update creates them.
      const kinds = c.kinds === 2 ? ['m', 'v'] : c.kinds === 1 ? ['momentum'] : [];
      assert.deepEqual(
        state.slots.map((s) => [s.name, Array.from(s.values)]),
        [0, 1].flatMap((i) => kinds.map((k, j) => [`${k}/${i}`, new Array(i === 0 ? 2 : 1).fill(20 * (j + 1))])),
      );
    } finally {
      opt.dispose();
      tf.dispose([...vars, ...grads]);
    }
  });
}

test('a compiled update that returns the wrong number of tensors is refused, and leaks nothing', () => {
  const opt = createOptimizer('lamb', { weightDecay: 0, momentum: 0 });
  const vars = [tf.variable(tf.tensor1d([1, 2])), tf.variable(tf.tensor1d([3]))];
  const grads = [tf.tensor1d([0.5, 0.5]), tf.tensor1d([0.5])];
  try {
    opt.apply(vars, grads, 0.1, new FakeUpdater());
    const before = tf.memory().numTensors;
    assert.throws(() => opt.apply(vars, grads, 0.1, new FakeUpdater(true)), /optimizer lamb: the compiled update returned 1 variables and 2 slot kinds for 2 and 2/);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(Array.from(vars[0]!.dataSync()), [2, 3], 'variables keep their values');
  } finally {
    opt.dispose();
    tf.dispose([...vars, ...grads]);
  }
});
