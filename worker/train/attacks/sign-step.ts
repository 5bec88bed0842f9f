/**
 * The L-inf sign step of FGSM, FGSM-RS, PGD and TRADES, written once against
 * {@link NumOps}: the eager attacks (eager-ops.ts) and the compiled attack
 * graph (native/graph/step-graphs.ts) both run these functions.
 *
 * For x in [0, 1], clamping to lo = max(x − eps, 0) and hi = min(x + eps, 1)
 * equals projecting onto the L-inf ball around x, then clipping to [0, 1];
 * the bounds are computed once per attack.
 */
import type { NumOps } from '../numerics/num-ops.js';

/** Per-pixel bounds of the L-inf ball around x intersected with [0, 1]. */
export interface LinfBox<T> {
  readonly lo: T;
  readonly hi: T;
}

/** lo = max(x − eps, 0), hi = min(x + eps, 1); `eps` is a scalar. */
export function linfBox<T>(o: NumOps<T>, x: T, eps: T): LinfBox<T> {
  return { lo: o.maximum(o.sub(x, eps), o.scalar(0)), hi: o.minimum(o.add(x, eps), o.scalar(1)) };
}

/** Clamps `xAdv` into `box`. */
export function projectIntoBox<T>(o: NumOps<T>, xAdv: T, box: LinfBox<T>): T {
  return o.minimum(o.maximum(xAdv, box.lo), box.hi);
}

/** One step: clamp(x_adv + stepSize · sign(grad)) into `box`; `stepSize` is a scalar. */
export function signStep<T>(o: NumOps<T>, xAdv: T, grad: T, stepSize: T, box: LinfBox<T>): T {
  return projectIntoBox(o, o.add(xAdv, o.mul(stepSize, o.sign(grad))), box);
}

/** A random start: x plus `noise` (drawn by the caller), clamped into `box` (FGSM-RS, PGD, TRADES). */
export function noisyStart<T>(o: NumOps<T>, x: T, noise: T, box: LinfBox<T>): T {
  return projectIntoBox(o, o.add(x, noise), box);
}
