/**
 * LARS (You et al. 2017, arXiv 1708.03888), as timm's `optim/lars.py`
 * without trust clipping. Per variable w with gradient g:
 *
 * 1. trust = η·‖w‖ / (‖g‖ + wd·‖w‖ + ε), η = 0.001, or 1 if ‖w‖ or ‖g‖ is 0.
 * 2. g′ = (g + wd·w) · trust.
 * 3. buf ← momentum·buf + g′ (PyTorch momentum SGD, no dampening).
 * 4. w ← w − lr · buf.
 *
 * Every tensor is adapted, biases and BatchNorm included (the reference
 * implementations often skip those; this keeps one rule for all). Because of
 * η, LARS wants a base lr orders of magnitude above SGD's. ε defaults to 1e-8.
 *
 * The arithmetic is written once, in update-rules.ts, for the eager and
 * the compiled update alike.
 */
import { checkHyper, SlotOptimizer } from './_slots.js';
import type { OptimizerHyper, RuleOf } from './types.js';

/** LARS trust coefficient η. */
export const LARS_TRUST_COEFFICIENT = 0.001;

/** LARS with momentum. */
export class LarsOptimizer extends SlotOptimizer {
  readonly id = 'lars';
  protected readonly slotKinds = ['momentum'];
  readonly rule: RuleOf<'lars'>;

  constructor(hyper: OptimizerHyper) {
    super();
    this.rule = {
      kind: 'lars',
      momentum: checkHyper('lars', 'momentum', hyper.momentum, 0, 1),
      epsilon: checkHyper('lars', 'epsilon', hyper.epsilon ?? 1e-8, 0),
      weightDecay: checkHyper('lars', 'weightDecay', hyper.weightDecay, 0),
      trustCoefficient: LARS_TRUST_COEFFICIENT,
    };
  }
}
