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
 * With `freezeSecondMomentAfter` = T, updates after the T-th keep v as it
 * was (step 1 becomes v ← v), as 1-bit LAMB does (Li et al., HiPC 2022, after
 * 1-bit Adam, Tang et al., ICML 2021): once the ring carries sign-compressed
 * moments, g² would be one value per compressed piece and v would lose the
 * per-coordinate scale it learned from the uncompressed warm-up.
 *
 * The arithmetic is written once, in update-rules.ts, for the eager and
 * the compiled update alike.
 */
import { checkHyper, momentHypers, SlotOptimizer } from './_slots.js';
import { ConfigError } from '../../../common/errors.js';
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
    const freeze = hyper.freezeSecondMomentAfter;
    if (freeze !== undefined && !Number.isInteger(checkHyper('lamb', 'freezeSecondMomentAfter', freeze, 0))) {
      throw new ConfigError(`optimizer lamb: freezeSecondMomentAfter must be an integer, got ${freeze}`);
    }
    this.rule = {
      kind: 'lamb',
      ...momentHypers('lamb', hyper, 1e-6),
      weightNormCap: LAMB_WEIGHT_NORM_CAP,
      ...(freeze !== undefined ? { freezeSecondMomentAfter: freeze } : {}),
    };
  }
}
