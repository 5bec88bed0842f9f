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
 *
 * The arithmetic is written once, in update-rules.ts, for the eager and
 * the compiled update alike.
 */
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
}
