/**
 * Table of NumOps cases shared by the eager-lowering test (eager-ops.test.ts)
 * and the graph-lowering test (native/graph/graph-ops.test.ts): each case is
 * written once against NumOps, as the update rules and the attack step are.
 */
import { linfBox, noisyStart, signStep } from '../../../../worker/train/attacks/sign-step.js';
import type { NumOps } from '../../../../worker/train/numerics/num-ops.js';
import { ruleSlotKinds, type UpdateRule } from '../../../../worker/train/optimizers/types.js';
import { applyUpdateRule } from '../../../../worker/train/optimizers/update-rules.js';

/** One input: its values and shape. */
export interface CaseInput {
  readonly values: readonly number[];
  readonly shape: readonly number[];
}

/** A case: inputs, a function of them written against NumOps, and (for the elementary ops) the expected outputs. */
export interface NumOpsCase {
  readonly name: string;
  readonly inputs: readonly CaseInput[];
  run<T>(o: NumOps<T>, xs: readonly T[]): T[];
  /** Expected values of each output (float32-rounded by the test); absent: compared between lowerings only. */
  readonly want?: readonly (readonly number[])[];
}

const vec = (values: readonly number[]): CaseInput => ({ values, shape: [values.length] });
const A = vec([-2, -0.5, 0, 0.25, 3]);
const B = vec([1, -1, 2, 0.5, -3]);
const POS = vec([4, 0.25, 0, 2.25, 9]);

/** Deterministic pseudo-random values in [-1, 1) (an LCG: no test depends on tfjs' random ops). */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const elementary: readonly NumOpsCase[] = [
  { name: 'scalar', inputs: [A], run: (o, [a]) => [o.mul(a!, o.scalar(0.5))], want: [[-1, -0.25, 0, 0.125, 1.5]] },
  { name: 'add', inputs: [A, B], run: (o, [a, b]) => [o.add(a!, b!)], want: [[-1, -1.5, 2, 0.75, 0]] },
  { name: 'sub', inputs: [A, B], run: (o, [a, b]) => [o.sub(a!, b!)], want: [[-3, 0.5, -2, -0.25, 6]] },
  { name: 'mul', inputs: [A, B], run: (o, [a, b]) => [o.mul(a!, b!)], want: [[-2, 0.5, 0, 0.125, -9]] },
  { name: 'div', inputs: [A, B], run: (o, [a, b]) => [o.div(a!, b!)], want: [[-2, 0.5, 0, 0.5, -1]] },
  { name: 'maximum', inputs: [A, B], run: (o, [a, b]) => [o.maximum(a!, b!)], want: [[1, -0.5, 2, 0.5, 3]] },
  { name: 'minimum', inputs: [A, B], run: (o, [a, b]) => [o.minimum(a!, b!)], want: [[-2, -1, 0, 0.25, -3]] },
  { name: 'square', inputs: [A], run: (o, [a]) => [o.square(a!)], want: [[4, 0.25, 0, 0.0625, 9]] },
  { name: 'sqrt', inputs: [POS], run: (o, [a]) => [o.sqrt(a!)], want: [[2, 0.5, 0, 1.5, 3]] },
  { name: 'sign', inputs: [A], run: (o, [a]) => [o.sign(a!)], want: [[-1, -1, 0, 1, 1]] },
  { name: 'onesLike', inputs: [A], run: (o, [a]) => [o.onesLike(a!)], want: [[1, 1, 1, 1, 1]] },
  { name: 'clip to [-1, 1]', inputs: [A], run: (o, [a]) => [o.clip(a!, -1, 1)], want: [[-1, -0.5, 0, 0.25, 1]] },
  { name: 'l2Norm of a matrix', inputs: [{ values: [3, 0, -4, 0, 12, 0], shape: [2, 3] }], run: (o, [a]) => [o.l2Norm(a!)], want: [[13]] },
  { name: 'where(greater)', inputs: [A, B], run: (o, [a, b]) => [o.where(o.greater(a!, b!), a!, b!)], want: [[1, -0.5, 2, 0.5, 3]] },
  {
    name: 'where(logicalAnd(a > 0, b > 0))',
    inputs: [A, B],
    run: (o, [a, b]) => [o.where(o.logicalAnd(o.greater(a!, o.scalar(0)), o.greater(b!, o.scalar(0))), a!, o.onesLike(b!))],
    want: [[1, 1, 1, 0.25, 1]],
  },
];

const RULES: readonly UpdateRule[] = [
  { kind: 'sgd', momentum: 0, weightDecay: 0 },
  { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  { kind: 'lars', momentum: 0.9, epsilon: 1e-8, weightDecay: 5e-4, trustCoefficient: 0.001 },
  { kind: 'lars', momentum: 0, epsilon: 1e-8, weightDecay: 0, trustCoefficient: 0.001 },
  { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
  { kind: 'lamb', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, weightDecay: 0.01, weightNormCap: 10 },
  { kind: 'lamb', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, weightDecay: 0, weightNormCap: 10 },
];

const N = 24;

/** One update of a [4, 6] variable: inputs w, g, then its slots, then lr (and Adam's bias corrections); outputs w then slots. */
function ruleCase(rule: UpdateRule, k: number): NumOpsCase {
  const kinds = ruleSlotKinds(rule);
  const t = (seed: number, scale = 1): CaseInput => ({ values: values(N, seed).map((v) => v * scale), shape: [4, 6] });
  // Second moments are non-negative.
  const slots = kinds.map((kind, j) => (kind === 'v' ? { values: values(N, 50 + k + j).map((v) => v * v * 1e-2), shape: [4, 6] } : t(40 + k + j, 0.1)));
  const scalars = rule.kind === 'adam' ? [0.05, 1 - 0.9 ** 3, 1 - 0.999 ** 3] : [0.05];
  return {
    name: `update rule ${JSON.stringify(rule)}`,
    inputs: [t(10 + k), t(20 + k, 0.3), ...slots, ...scalars.map((v) => ({ values: [v], shape: [] }))],
    run: (o, xs) => {
      const [w, g, ...rest] = xs;
      const slotIn = Object.fromEntries(kinds.map((kind, j) => [kind, rest[j]!]));
      const [lr, bias1, bias2] = rest.slice(kinds.length);
      const out = applyUpdateRule(o, rule, { w: w!, g: g!, slots: slotIn, lr: lr!, ...(rule.kind === 'adam' ? { bias1: bias1!, bias2: bias2! } : {}) });
      return [out.w, ...kinds.map((kind) => out.slots[kind]!)];
    },
  };
}

/** The L-inf step: a noisy start, then a sign step, both clamped into the box around x ([2, 2, 2, 1] images in [0, 1]). */
const signStepCase: NumOpsCase = {
  name: 'L-inf start and sign step',
  inputs: [
    { values: values(8, 3).map((v) => (v + 1) / 2), shape: [2, 2, 2, 1] },
    { values: values(8, 4).map((v) => v * 0.1), shape: [2, 2, 2, 1] },
    { values: values(8, 5), shape: [2, 2, 2, 1] },
    { values: [0.1], shape: [] },
    { values: [0.04], shape: [] },
  ],
  run: (o, [x, noise, grad, eps, stepSize]) => {
    const box = linfBox(o, x!, eps!);
    const start = noisyStart(o, x!, noise!, box);
    return [start, signStep(o, start, grad!, stepSize!, box)];
  },
};

/** Every case: the elementary ops with expected values, then the shared definitions. */
export const NUM_OPS_CASES: readonly NumOpsCase[] = [...elementary, ...RULES.map(ruleCase), signStepCase];
