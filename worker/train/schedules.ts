/**
 * Learning-rate schedules as pure functions of the (fractional) epoch.
 *
 * Epoch counting: warm-up is part of the `epochs` of training, and every
 * epoch number (milestones included) counts from the start of training,
 * warm-up epochs included. With `warmupEpochs: 5, epochs: 205, milestones:
 * [80, 95, 100]` that reproduces DAT's "5 warm-up epochs + 200 with
 * milestones 75/90/95".
 */
import type { ScheduleId } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';

/** The schedule fields of the train options. */
export interface ScheduleOptions {
  readonly schedule: ScheduleId;
  /** Base (peak) learning rate. */
  readonly lr: number;
  /** Linear warm-up length in epochs. @default 0 */
  readonly warmupEpochs: number;
  /** Total training epochs (warm-up included). */
  readonly epochs: number;
  /** `step`: epochs at which the LR is multiplied by `gamma`. */
  readonly milestones: readonly number[];
  /** `step`: decay factor. @default 0.1 */
  readonly gamma: number;
}

/** Checks the schedule options; throws a ConfigError naming the bad field. */
export function validateScheduleOptions(s: ScheduleOptions): void {
  const bad = (name: string, want: string, got: unknown): never => {
    throw new ConfigError(`schedule ${s.schedule}: ${name} must be ${want}, got ${String(got)}`);
  };
  if (!Number.isFinite(s.lr) || s.lr < 0) bad('lr', 'a finite number >= 0', s.lr);
  if (!Number.isFinite(s.epochs) || s.epochs <= 0) bad('epochs', 'a finite number > 0', s.epochs);
  if (!Number.isFinite(s.warmupEpochs) || s.warmupEpochs < 0 || s.warmupEpochs > s.epochs) bad('warmupEpochs', `a number in [0, epochs=${s.epochs}]`, s.warmupEpochs);
  if (s.schedule === 'step') {
    if (!Number.isFinite(s.gamma) || s.gamma <= 0) bad('gamma', 'a finite number > 0', s.gamma);
    for (let i = 0; i < s.milestones.length; i++) {
      const m = s.milestones[i]!;
      if (!Number.isFinite(m) || m < 0) bad('milestones', 'finite numbers >= 0', s.milestones.join(','));
      if (i > 0 && m <= s.milestones[i - 1]!) bad('milestones', 'strictly increasing', s.milestones.join(','));
    }
  }
  if (s.schedule === 'cosine' && s.warmupEpochs >= s.epochs) bad('warmupEpochs', `less than epochs=${s.epochs} for cosine`, s.warmupEpochs);
}

/** Where the triangular `cyclic` schedule peaks, as a fraction of training (Wong et al.). */
export const CYCLIC_PEAK_FRACTION = 0.4;

/**
 * The learning rate at `epoch` (fractional: `e + step / stepsPerEpoch`).
 *
 * 1. Base schedule at `epoch`:
 *    - `constant`: lr.
 *    - `step`: lr · gamma^(number of milestones ≤ epoch).
 *    - `cosine`: lr · ½(1 + cos(π·t)), t = (epoch − warmup)/(epochs − warmup),
 *      so it decays from lr after warm-up to 0 at the end.
 *    - `cyclic`: triangular, 0 at epoch 0 → lr at 40% of `epochs` → 0 at the
 *      end (Wong et al.'s `np.interp`). It is its own warm-up; set
 *      `warmupEpochs` to 0 with it (a non-zero value still multiplies).
 * 2. During warm-up (epoch < warmupEpochs) multiply by the linear factor.
 *    With `stepsPerEpoch` it is DAT's per-iteration (step+1)/(warmup·iters),
 *    so the first step already trains; without it, epoch/warmup.
 *
 * Epochs past `epochs` keep the end value (0 for cosine and cyclic).
 */
export function learningRateAt(s: ScheduleOptions, epoch: number, stepsPerEpoch?: number): number {
  const e = Math.max(0, epoch);
  // Step 1
  let lr: number;
  switch (s.schedule) {
    case 'constant':
      lr = s.lr;
      break;
    case 'step': {
      // A small tolerance so a fractional epoch computed as k + n/n lands on milestone k+1.
      const passed = s.milestones.filter((m) => e >= m - 1e-9).length;
      lr = s.lr * s.gamma ** passed;
      break;
    }
    case 'cosine': {
      const span = s.epochs - s.warmupEpochs;
      const t = span > 0 ? Math.min(1, Math.max(0, (e - s.warmupEpochs) / span)) : 1;
      lr = s.lr * 0.5 * (1 + Math.cos(Math.PI * t));
      break;
    }
    case 'cyclic': {
      const peak = CYCLIC_PEAK_FRACTION * s.epochs;
      if (e <= peak) lr = peak > 0 ? (s.lr * e) / peak : s.lr;
      else lr = s.lr * Math.max(0, (s.epochs - e) / (s.epochs - peak));
      break;
    }
    default: {
      const unknown: never = s.schedule;
      throw new ConfigError(`unknown schedule ${String(unknown)}`);
    }
  }
  // Step 2
  if (s.warmupEpochs > 0 && e < s.warmupEpochs) {
    const ahead = stepsPerEpoch !== undefined && stepsPerEpoch > 0 ? 1 / stepsPerEpoch : 0;
    lr *= Math.min(1, (e + ahead) / s.warmupEpochs);
  }
  return lr;
}

/**
 * The factor (0, 1] on the training attack's eps and step size at `epoch`
 * (fractional, as for {@link learningRateAt}): a linear ramp over the first
 * `warmupEpochs`, then 1. With `stepsPerEpoch` it looks one step ahead, as
 * the LR warm-up does, so the first step already attacks (at eps / (K·steps))
 * and every attack keeps a positive radius.
 */
export function epsWarmupFactor(warmupEpochs: number, epoch: number, stepsPerEpoch: number): number {
  if (!(warmupEpochs > 0)) return 1;
  const e = Math.max(0, epoch) + (stepsPerEpoch > 0 ? 1 / stepsPerEpoch : 0);
  return Math.min(1, e / warmupEpochs);
}
