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
 *
 * The arithmetic is written once, in update-rules.ts, for the eager and
 * the compiled update alike.
 */
import { momentHypers, SlotOptimizer } from './_slots.js';
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
}
