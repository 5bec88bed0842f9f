/**
 * FAB-T, L-inf (Croce & Hein, ICML 2020, "Minimally distorted adversarial
 * examples with a fast adaptive boundary attack"), the targeted member of the
 * standard AutoAttack ensemble: 9 targets, 100 iterations each, η = 1.05,
 * β = 0.9, α_max = 0.1, started at x. Per target t and iteration:
 *
 * 1. Linearize g(z) = z_t − z_y at x_k: g(x_k) + ∇g · (z − x_k) = 0.
 * 2. Project x_k and the original x onto that hyperplane within [0, 1]
 *    (minimal L-inf steps δ_k and δ_0, see {@link projectLinfHyperplane}).
 * 3. α = min(‖δ_k‖ / (‖δ_k‖ + ‖δ_0‖), α_max);
 *    x_{k+1} = clip((1 − α)(x_k + η δ_k) + α (x + η δ_0), 0, 1).
 * 4. If x_{k+1} is misclassified, keep it when it is the closest so far, then
 *    step back towards x: x_{k+1} ← x + β (x_{k+1} − x).
 *
 * The result is the closest adversarial point found; the ensemble counts it
 * only within eps, so {@link fabTAttack} returns x where it lies farther.
 */
import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from '../../util/yield-to-event-loop.js';
import { restartOnRobust } from './_restarts.js';
import { rankedClass } from './margin-losses.js';
import { checkBatch, checkEps, checkInt, logitsOf } from './types.js';

/** Settings of FAB-T; defaults are the standard version's. */
export interface FabTOptions {
  /** @default 100 */
  readonly steps?: number;
  /** @default 9 (capped at numClasses − 1) */
  readonly targets?: number;
  /** Overshoot of the projection. @default 1.05 */
  readonly eta?: number;
  /** Backward step after a success. @default 0.9 */
  readonly beta?: number;
  /** Largest pull towards the original point. @default 0.1 */
  readonly alphaMax?: number;
}

// Bisection steps of the projection: 2^-24 of the box width is float32's resolution on [0, 1],
// so more steps change nothing; they would only add cost (the bisection dominates FAB's time on a small CNN).
const BISECTION_STEPS = 24;

/**
 * Per row i, the smallest-L-inf step d with w_i · (p_i + d) = b_i and
 * p_i + d in [0, 1]: d(τ) = clip(τ · sign(c) · sign(w), −p, 1 − p) with
 * c = b − w · p, and the least τ ∈ [0, 1] that reaches the plane (found by
 * bisection; w · d(τ) is monotone in τ). Where no τ reaches it, d(1), the box
 * corner closest to the plane. p, w: [m, D]; b: [m].
 */
export function projectLinfHyperplane(p: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const need = tf.sub(b, tf.sum(tf.mul(w, p), 1));
    const dir = tf.mul(tf.sign(need).expandDims(1), tf.sign(w));
    const lo = tf.neg(p);
    const hi = tf.sub(1, p);
    const stepAt = (tau: tf.Tensor): tf.Tensor2D => tf.minimum(tf.maximum(tf.mul(tau.expandDims(1), dir), lo), hi) as tf.Tensor2D;
    const target = tf.abs(need);
    let a = tf.zeros([p.shape[0]]);
    let z = tf.ones([p.shape[0]]);
    for (let i = 0; i < BISECTION_STEPS; i++) {
      const mid = tf.mul(0.5, tf.add(a, z));
      const reached = tf.greaterEqual(tf.abs(tf.sum(tf.mul(w, stepAt(mid)), 1)), target);
      [a, z] = [tf.where(reached, a, mid), tf.where(reached, mid, z)];
    }
    return stepAt(z);
  });
}

/** g = z_t − z_y per example (the caller disposes it) and ∇ₓ Σg, from one forward and one backward pass. */
function targetGap(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, t: tf.Tensor1D): { gap: tf.Tensor1D; grad: tf.Tensor4D } {
  const k = (model.outputs[0]!.shape[1] ?? 0) as number;
  let gap: tf.Tensor1D | undefined;
  const grad = tf.grad((xi: tf.Tensor) => {
    const logits = logitsOf(model, xi as tf.Tensor4D);
    const g = tf.sum(tf.mul(logits, tf.sub(tf.oneHot(t, k), tf.oneHot(y, k)).toFloat()), 1) as tf.Tensor1D;
    // Kept past the gradient's scope, so no tidy disposes it: the caller must.
    gap = tf.keep(g.clone());
    return tf.sum(g);
  })(x) as tf.Tensor4D;
  return { gap: gap!, grad };
}

/** The closest adversarial point FAB-T towards `t` found, and its L-inf distance (Infinity where none). */
export interface FabResult {
  readonly adv: tf.Tensor4D;
  readonly dist: Float32Array;
}

/** One FAB-T run towards per-example targets `t` (see the module comment). */
export async function fabTargetedRun(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, t: tf.Tensor1D, o: FabTOptions = {}): Promise<FabResult> {
  const steps = o.steps ?? 100;
  const eta = o.eta ?? 1.05;
  const beta = o.beta ?? 0.9;
  const alphaMax = o.alphaMax ?? 0.1;
  const n = x.shape[0];
  const flat = (v: tf.Tensor): tf.Tensor2D => v.reshape([n, -1]) as tf.Tensor2D;
  let cur = tf.clone(x);
  let best = tf.clone(x);
  const dist = new Float32Array(n).fill(Infinity);
  for (let s = 0; s < steps; s++) {
    await yieldToEventLoop();
    const [next, nextDist, wrong] = tf.tidy(() => {
      // Step 1
      const { gap, grad } = targetGap(model, cur, y, t);
      const w = flat(grad);
      const b = tf.sub(tf.sum(tf.mul(w, flat(cur)), 1), gap) as tf.Tensor1D;
      gap.dispose();
      // Step 2
      const d = projectLinfHyperplane(tf.concat([flat(cur), flat(x)]), tf.concat([w, w]), tf.concat([b, b]));
      const dk = d.slice([0, 0], [n, -1]).reshape(x.shape);
      const d0 = d.slice([n, 0], [n, -1]).reshape(x.shape);
      // Step 3
      const norms = tf.maximum(tf.max(tf.abs(d), 1), 1e-8);
      const ak = norms.slice([0], [n]);
      const a0 = norms.slice([n], [n]);
      const alpha = tf.clipByValue(tf.div(ak, tf.add(ak, a0)), 0, alphaMax).reshape([n, 1, 1, 1]);
      const moved = tf.add(tf.mul(tf.sub(1, alpha), tf.add(cur, tf.mul(eta, dk))), tf.mul(alpha, tf.add(x, tf.mul(eta, d0))));
      const xNext = tf.clipByValue(moved, 0, 1) as tf.Tensor4D;
      const isWrong = tf.notEqual(tf.argMax(logitsOf(model, xNext), 1).toInt(), y);
      return [xNext, tf.max(tf.abs(flat(tf.sub(xNext, x))), 1), isWrong] as const;
    });
    // Step 4
    const wrongArr = wrong.dataSync();
    const distArr = nextDist.dataSync();
    const closer = Array.from(wrongArr, (v, i) => (v !== 0 && distArr[i]! < dist[i]! ? 1 : 0));
    closer.forEach((c, i) => {
      if (c === 1) dist[i] = distArr[i]!;
    });
    const prevCur = cur;
    const prevBest = best;
    [cur, best] = tf.tidy(() => {
      const wrongMask = tf.broadcastTo(wrong.reshape([n, 1, 1, 1]), x.shape);
      const closerMask = tf.broadcastTo(tf.tensor4d(closer, [n, 1, 1, 1], 'bool'), x.shape);
      const back = tf.add(x, tf.mul(beta, tf.sub(next, x)));
      return [tf.where(wrongMask, back, next) as tf.Tensor4D, tf.where(closerMask, next, prevBest) as tf.Tensor4D];
    });
    tf.dispose([prevCur, prevBest, next, nextDist, wrong]);
  }
  cur.dispose();
  return { adv: best, dist };
}

/** FAB-T over the top non-true classes, keeping only points within eps (see the module comment). */
export async function fabTAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, _seed: number, o: FabTOptions = {}): Promise<tf.Tensor4D> {
  const steps = o.steps ?? 100;
  checkEps('fab-t', eps);
  checkInt('fab-t', 'steps', steps, 1);
  checkBatch('fab-t', x, y);
  const numClasses = (model.outputs[0]!.shape[1] ?? 0) as number;
  checkInt('fab-t', 'number of classes', numClasses, 2);
  const targets = Math.min(o.targets ?? 9, numClasses - 1);
  return restartOnRobust(model, x, y, targets, async (xs, ys, r) => {
    const target = tf.tidy(() => rankedClass(logitsOf(model, xs), r + 1));
    const { adv, dist } = await fabTargetedRun(model, xs, ys, target, { ...o, steps });
    const out = tf.tidy(() => {
      const within = tf.tensor4d(Array.from(dist, (d) => (d <= eps ? 1 : 0)), [dist.length, 1, 1, 1], 'bool');
      return tf.where(tf.broadcastTo(within, xs.shape), adv, xs) as tf.Tensor4D;
    });
    tf.dispose([target, adv]);
    return out;
  });
}
