/**
 * Momentum SGD with weight decay, PyTorch `torch.optim.SGD` semantics
 * (dampening 0, not Nesterov). Per variable w with gradient g:
 *
 * 1. g′ = g + wd·w.
 * 2. buf ← momentum·buf + g′ (the first step gives buf = g′).
 * 3. w ← w − lr · buf (plain w − lr·g′ when momentum is 0).
 */
import * as tf from '@tensorflow/tfjs';
import { checkHyper, SlotOptimizer } from './_slots.js';
import type { OptimizerHyper, RuleOf } from './types.js';

/** Momentum SGD. */
export class SgdOptimizer extends SlotOptimizer {
  readonly id = 'sgd';
  protected readonly slotKinds = ['momentum'];
  readonly rule: RuleOf<'sgd'>;

  constructor(hyper: OptimizerHyper) {
    super();
    this.rule = { kind: 'sgd', momentum: checkHyper('sgd', 'momentum', hyper.momentum, 0, 1), weightDecay: checkHyper('sgd', 'weightDecay', hyper.weightDecay, 0) };
  }

  protected update(i: number, w: tf.Variable, g: tf.Tensor, lr: number): void {
    const { momentum, weightDecay } = this.rule;
    // Step 1
    const decayed = weightDecay === 0 ? g : tf.add(g, tf.mul(weightDecay, w));
    // Step 2
    let direction = decayed;
    if (momentum !== 0) {
      const buf = this.slot('momentum', i, w);
      buf.assign(tf.add(tf.mul(momentum, buf), decayed));
      direction = buf;
    }
    // Step 3
    w.assign(tf.sub(w, tf.mul(lr, direction)));
  }
}
