/**
 * Momentum SGD with weight decay, PyTorch `torch.optim.SGD` semantics
 * (dampening 0, not Nesterov). Per variable w with gradient g:
 *
 * 1. g′ = g + wd·w.
 * 2. buf ← momentum·buf + g′ (the first step gives buf = g′).
 * 3. w ← w − lr · buf (plain w − lr·g′ when momentum is 0).
 *
 * The arithmetic is written once, in update-rules.ts, for the eager and
 * the compiled update alike.
 */
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
}
