/**
 * Auto-PGD, L-inf (Croce & Hein, ICML 2020, Algorithm 1), shared by APGD-CE
 * and APGD-T. One restart:
 *
 * 1. Start at clip(x + eps · t / max|t|, 0, 1), t ~ U[−1, 1], step size η = 2·eps per example.
 * 2. Each iteration k: z = P(x_k + η · sign(∇L(x_k))), then
 *    x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1})), α = 0.75 (1 on the first step).
 * 3. Keep per example the highest-loss point x_max and the first misclassified point.
 * 4. At each checkpoint w_j (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)):
 *    halve η and restart from x_max where the loss rose in fewer than 75% of the
 *    steps since the last checkpoint, or where η was not reduced last time and
 *    the best loss did not improve.
 *
 * P clamps to the eps-ball and [0, 1]. Per-example bookkeeping (losses, step
 * sizes, counters) lives in typed arrays; the images stay tensors, and each
 * iteration's tensor math runs inside one tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinfBounds } from '../../train/attacks/_common.js';
import { projectIntoBox } from '../../train/attacks/sign-step.js';
import { eagerOps } from '../../train/numerics/eager-ops.js';
import { yieldToEventLoop } from '../../util/yield-to-event-loop.js';
import { boundsOf, logitsOf, rowMask } from './types.js';

/** Per-example loss of logits, maximized by APGD. */
export type ApgdLoss = (logits: tf.Tensor2D, y: tf.Tensor1D) => tf.Tensor1D;

/** Options of {@link apgdRun}. */
export interface ApgdOptions {
  readonly eps: number;
  /** @default 100 (the standard version) */
  readonly steps: number;
  readonly seed: number;
  /** Momentum α. @default 0.75 */
  readonly momentum?: number;
  /** Fraction of loss increases below which the step size halves. @default 0.75 */
  readonly rho?: number;
}

/**
 * The iteration indices after which the step size may halve: ⌈p_j · steps⌉
 * for the paper's p_j, as AutoAttack computes them (first after 22% of the
 * steps, then intervals shrinking by 3% of the steps down to 6%).
 */
export function apgdCheckpointIntervals(steps: number): number[] {
  const first = Math.max(Math.floor(0.22 * steps), 1);
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  const min = Math.max(Math.floor(0.06 * steps), 1);
  const out: number[] = [];
  for (let k = first, at = 0; at + k <= steps; k = Math.max(k - decrease, min)) {
    at += k;
    out.push(k);
  }
  return out;
}

interface Probe {
  readonly loss: Float32Array;
  readonly correct: Uint8Array;
  readonly grad: tf.Tensor4D;
}

/** Loss, correctness and ∇ₓΣloss at `xAdv` from one forward and one backward pass. */
function probe(model: tf.LayersModel, xAdv: tf.Tensor4D, y: tf.Tensor1D, loss: ApgdLoss): Probe {
  let kept: tf.Tensor[] = [];
  const grad = tf.tidy(() =>
    tf.grad((xi: tf.Tensor) => {
      const logits = logitsOf(model, xi as tf.Tensor4D);
      const perExample = loss(logits, y);
      kept = [tf.keep(perExample.clone()), tf.keep(tf.equal(tf.argMax(logits, 1).toInt(), y).toInt())];
      return tf.sum(perExample);
    })(xAdv),
  ) as tf.Tensor4D;
  const out = { loss: Float32Array.from(kept[0]!.dataSync()), correct: Uint8Array.from(kept[1]!.dataSync()), grad };
  tf.dispose(kept);
  return out;
}

/** Replaces `*target` by where(mask, src, *target) and disposes the old value. */
function assignWhere(target: { t: tf.Tensor4D }, mask: ArrayLike<number>, src: tf.Tensor4D): void {
  if (!Array.prototype.some.call(mask, (m: number) => m !== 0)) return;
  const old = target.t;
  target.t = tf.tidy(() => tf.where(rowMask(mask, old.shape) as tf.Tensor, src, old) as tf.Tensor4D);
  old.dispose();
}

/** The random start of Step 1. */
function randomStart(x: tf.Tensor4D, eps: number, seed: number, bounds: LinfBounds): tf.Tensor4D {
  return tf.tidy(() => {
    const t = tf.randomUniform(x.shape, -1, 1, 'float32', seed);
    const tMax = tf.max(tf.abs(t.reshape([x.shape[0], -1])), 1).reshape([-1, 1, 1, 1]);
    return projectIntoBox(eagerOps, tf.add(x, tf.mul(eps, tf.div(t, tMax))), bounds) as tf.Tensor4D;
  });
}

/**
 * One APGD restart (see the module comment). Returns per example the first
 * misclassified iterate where one was found, else the highest-loss point.
 */
export async function apgdRun(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, loss: ApgdLoss, o: ApgdOptions): Promise<tf.Tensor4D> {
  const n = x.shape[0];
  const alpha = o.momentum ?? 0.75;
  const rho = o.rho ?? 0.75;
  const bounds = boundsOf(x, o.eps);
  // Step 1
  const cur = { t: randomStart(x, o.eps, o.seed, bounds) };
  const prev = { t: tf.clone(cur.t) };
  let p = probe(model, cur.t, y, loss);
  const grad = { t: p.grad };
  const best = { t: tf.clone(cur.t) };
  const bestGrad = { t: tf.clone(p.grad) };
  const bestAdv = { t: tf.clone(cur.t) };
  const fooled = Uint8Array.from(p.correct, (c) => 1 - c);
  const lossBest = Float32Array.from(p.loss);
  const step = new Float32Array(n).fill(2 * o.eps);
  const intervals = apgdCheckpointIntervals(o.steps);
  let interval = 0;
  let sinceCheck = 0;
  let increases = new Float32Array(n);
  const lastLoss = new Float32Array(n); // the paper's code compares the first step against 0
  let lossBestLastCheck = Float32Array.from(lossBest);
  let reducedLastCheck = new Uint8Array(n).fill(1);
  for (let k = 0; k < o.steps; k++) {
    await yieldToEventLoop();
    // Step 2
    const a = k === 0 ? 1 : alpha;
    const next = tf.tidy(() => {
      const eta = tf.tensor4d(step, [n, 1, 1, 1]);
      const z = projectIntoBox(eagerOps, tf.add(cur.t, tf.mul(eta, tf.sign(grad.t))), bounds) as tf.Tensor4D;
      const moved = tf.add(tf.add(cur.t, tf.mul(a, tf.sub(z, cur.t))), tf.mul(1 - a, tf.sub(cur.t, prev.t))) as tf.Tensor4D;
      return projectIntoBox(eagerOps, moved, bounds) as tf.Tensor4D;
    });
    prev.t.dispose();
    prev.t = cur.t;
    cur.t = next;
    grad.t.dispose();
    p = probe(model, cur.t, y, loss);
    grad.t = p.grad;
    // Step 3
    const newlyFooled = p.correct.map((c, i) => (c === 0 && fooled[i] === 0 ? 1 : 0));
    assignWhere(bestAdv, newlyFooled, cur.t);
    newlyFooled.forEach((f, i) => (fooled[i] = fooled[i]! | f));
    const improved = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (p.loss[i]! > lastLoss[i]!) increases[i]! += 1;
      lastLoss[i] = p.loss[i]!;
      if (p.loss[i]! > lossBest[i]!) {
        improved[i] = 1;
        lossBest[i] = p.loss[i]!;
      }
    }
    assignWhere(best, improved, cur.t);
    assignWhere(bestGrad, improved, grad.t);
    // Step 4
    sinceCheck++;
    const k0 = intervals[interval];
    if (k0 !== undefined && sinceCheck === k0) {
      const reduce = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const oscillating = increases[i]! <= k0 * rho;
        const stalled = reducedLastCheck[i] === 0 && lossBestLastCheck[i]! >= lossBest[i]!;
        reduce[i] = oscillating || stalled ? 1 : 0;
        if (reduce[i] === 1) step[i]! /= 2;
      }
      reducedLastCheck = reduce;
      lossBestLastCheck = Float32Array.from(lossBest);
      assignWhere(cur, reduce, best.t);
      assignWhere(grad, reduce, bestGrad.t);
      increases = new Float32Array(n);
      sinceCheck = 0;
      interval++;
    }
  }
  const out = tf.tidy(() => tf.where(rowMask(fooled, x.shape) as tf.Tensor, bestAdv.t, best.t) as tf.Tensor4D);
  tf.dispose([cur.t, prev.t, grad.t, best.t, bestGrad.t, bestAdv.t, bounds.lo, bounds.hi]);
  return out;
}
