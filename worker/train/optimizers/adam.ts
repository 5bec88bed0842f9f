/**
 * Adam (Kingma & Ba 2015) with bias correction and L2 weight decay added to
 * the gradient (PyTorch `torch.optim.Adam` semantics). Per variable w with
 * gradient g, at update t (1-based):
 *
 * 1. g′ = g + wd·w.
 * 2. m ← β1·m + (1−β1)·g′;  v ← β2·v + (1−β2)·g′².
 * 3. w ← w − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 *
 * Defaults β = (0.9, 0.999), ε = 1e-8. `momentum` is not used.
 */
import * as tf from '@tensorflow/tfjs';
import { momentHypers, SlotOptimizer } from './_slots.js';
import type { OptimizerHyper, RuleOf } from './types.js';

/** Adam. */
export class AdamOptimizer extends SlotOptimizer {
  readonly id = 'adam';
  protected readonly slotKinds = ['m', 'v'];
  readonly rule: RuleOf<'adam'>;

  constructor(hyper: OptimizerHyper) {
    super();
    this.rule = { kind: 'adam', ...momentHypers('adam', hyper, 1e-8) };
  }

  protected update(i: number, w: tf.Variable, g: tf.Tensor, lr: number, step: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.rule;
    const m = this.slot('m', i, w);
    const v = this.slot('v', i, w);
    // Step 1
    const decayed = weightDecay === 0 ? g : tf.add(g, tf.mul(weightDecay, w));
    // Step 2
    m.assign(tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, decayed)));
    v.assign(tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(decayed))));
    // Step 3
    const mHat = tf.div(m, 1 - beta1 ** step);
    const vHat = tf.div(v, 1 - beta2 ** step);
    w.assign(tf.sub(w, tf.mul(lr, tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)))));
  }
}
