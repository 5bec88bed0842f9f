/**
 * LAMB as in the DAT reference (`dat-2022/dat: lamb.py`, from
 * cybertronai/pytorch-lamb): the "LALR" layer-wise adaptive update. Per
 * variable w with gradient g:
 *
 * 1. m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²  (no bias correction).
 * 2. u = m / (√v + ε) + wd·w.
 * 3. trust = clamp(‖w‖, 0, 10) / ‖u‖, or 1 if either norm is 0.
 * 4. w ← w − lr · trust · u.
 *
 * Defaults β = (0.9, 0.999), ε = 1e-6. `momentum` is not used.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Norm, momentHypers, SlotOptimizer } from './_slots.js';
import type { OptimizerHyper, RuleOf } from './types.js';

/** Upper clamp of the weight norm in the trust ratio (DAT's c_u). */
export const LAMB_WEIGHT_NORM_CAP = 10;

/** DAT's LAMB (LALR). */
export class LambOptimizer extends SlotOptimizer {
  readonly id = 'lamb';
  protected readonly slotKinds = ['m', 'v'];
  readonly rule: RuleOf<'lamb'>;

  constructor(hyper: OptimizerHyper) {
    super();
    this.rule = { kind: 'lamb', ...momentHypers('lamb', hyper, 1e-6), weightNormCap: LAMB_WEIGHT_NORM_CAP };
  }

  protected update(i: number, w: tf.Variable, g: tf.Tensor, lr: number): void {
    const { beta1, beta2, epsilon, weightDecay, weightNormCap } = this.rule;
    const m = this.slot('m', i, w);
    const v = this.slot('v', i, w);
    // Step 1
    m.assign(tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, g)));
    v.assign(tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(g))));
    // Step 2
    let u = tf.div(m, tf.add(tf.sqrt(v), epsilon));
    if (weightDecay !== 0) u = tf.add(u, tf.mul(weightDecay, w));
    // Step 3: stays on the device (no data sync); tf.where picks 1 for a zero norm.
    const wNorm = tf.clipByValue(l2Norm(w), 0, weightNormCap);
    const uNorm = l2Norm(u);
    const usable = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
    const trust = tf.where(usable, tf.div(wNorm, tf.where(usable, uNorm, tf.onesLike(uNorm))), tf.onesLike(wNorm));
    // Step 4
    w.assign(tf.sub(w, tf.mul(tf.mul(lr, trust), u)));
  }
}
