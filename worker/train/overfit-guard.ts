/**
 * Catastrophic-overfitting guard for FGSM-type training (Wong et al. 2020,
 * `locuslab/fast_adversarial: train_fgsm.py`): FGSM training can suddenly
 * lose all robustness to PGD within an epoch. Each epoch the trainer measures
 * PGD-5 accuracy on one fixed training batch and feeds it here:
 *
 * 1. A new best accuracy: the caller snapshots the weights ("best checkpoint").
 * 2. A drop of more than `maxDrop` below the best: collapse. The caller warns,
 *    stops, and restores the best snapshot as the final model.
 * 3. Otherwise: keep training.
 *
 * The decision logic ({@link OverfitGuard}) is pure; {@link BestWeightsGuard}
 * adds the probe and the weight snapshot.
 */
import type * as tf from '@tensorflow/tfjs';
import type { AttackId } from '../../common/contract.js';
import type { Split } from '../data/types.js';
import { deriveSeed } from '../util/rng.js';
import { evaluateCounts, type EvalAttackId } from './evaluate.js';
import { modelVariables, readWeights, writeWeights } from './variables.js';

/** Accuracy drop (fraction) vs the best that counts as catastrophic overfitting (Wong et al.: 20 points). */
export const OVERFIT_MAX_DROP = 0.2;
/** PGD steps of the guard's probe attack (Wong et al.: PGD-5). */
export const OVERFIT_PGD_STEPS = 5;

/** Attacks whose training can overfit catastrophically (single-step ones). */
export const FGSM_TYPE_ATTACKS: readonly AttackId[] = ['fgsm', 'fgsm-rs'];

/** Whether training with `attack` needs the guard. */
export function needsOverfitGuard(attack: AttackId): boolean {
  return FGSM_TYPE_ATTACKS.includes(attack);
}

/** What the caller should do after an observation. */
export const GUARD_ACTIONS = {
  /** New best: snapshot the weights. */
  improved: 'improved',
  /** Within tolerance of the best: continue. */
  ok: 'ok',
  /** Collapsed: warn, stop, restore the best snapshot. */
  collapsed: 'collapsed',
} as const;
export type GuardAction = (typeof GUARD_ACTIONS)[keyof typeof GUARD_ACTIONS];

/** The verdict of one {@link OverfitGuard.observe} call. */
export interface GuardVerdict {
  readonly action: GuardAction;
  /** Best accuracy so far (including this observation). */
  readonly bestAccuracy: number;
  /** Epoch of the best accuracy. */
  readonly bestEpoch: number;
}

/** Tracks the best probe accuracy and detects a collapse. */
export class OverfitGuard {
  private best = -Infinity;
  private bestEpochSeen = -1;

  /** @param maxDrop drop below the best (fraction) that counts as a collapse. @default 0.2 */
  constructor(readonly maxDrop: number = OVERFIT_MAX_DROP) {
    if (!(maxDrop > 0 && maxDrop <= 1)) throw new RangeError(`maxDrop must be in (0, 1], got ${maxDrop}`);
  }

  /** Feeds the probe accuracy (fraction) measured after `epoch`. */
  observe(epoch: number, accuracy: number): GuardVerdict {
    if (accuracy > this.best) {
      this.best = accuracy;
      this.bestEpochSeen = epoch;
      return { action: GUARD_ACTIONS.improved, bestAccuracy: accuracy, bestEpoch: epoch };
    }
    // A strict inequality: a drop of exactly maxDrop is tolerated (as `< -0.2` in the reference).
    const action = this.best - accuracy > this.maxDrop + 1e-12 ? GUARD_ACTIONS.collapsed : GUARD_ACTIONS.ok;
    return { action, bestAccuracy: this.best, bestEpoch: this.bestEpochSeen };
  }

  /** Guard state, for checkpoints (`bestEpoch` -1: nothing observed yet). */
  get state(): { readonly bestAccuracy: number; readonly bestEpoch: number } {
    return { bestAccuracy: this.best, bestEpoch: this.bestEpochSeen };
  }

  /** Restores a {@link state} saved by a checkpoint. */
  restore(s: { readonly bestAccuracy: number; readonly bestEpoch: number }): void {
    // -Infinity does not survive JSON; an unobserved guard is marked by bestEpoch -1.
    if (s.bestEpoch < 0) {
      this.best = -Infinity;
      this.bestEpochSeen = -1;
      return;
    }
    this.best = s.bestAccuracy;
    this.bestEpochSeen = s.bestEpoch;
  }
}

/** What a checkpoint keeps of a {@link BestWeightsGuard}. */
export interface GuardSnapshot {
  readonly bestAccuracy: number;
  /** -1 before the first check. */
  readonly bestEpoch: number;
  /** All weights at `bestEpoch` (absent before the first improvement). */
  readonly bestWeights?: Float32Array;
}

/** The fixed training batch the guard probes, and how. */
export interface GuardProbeOptions {
  /** One training batch (fixed for the whole run). */
  readonly batch: Split;
  readonly eps: number;
  readonly seed: number;
  readonly inputShape: readonly [number, number, number];
  /** @default 'pgd' */
  readonly attack?: EvalAttackId;
  /** @default {@link OVERFIT_MAX_DROP} */
  readonly maxDrop?: number;
}

/** What {@link BestWeightsGuard.check} observed and did. */
export interface GuardCheck extends GuardVerdict {
  /** PGD-5 accuracy on the probe batch this epoch. */
  readonly accuracy: number;
}

/**
 * The guard with its side effects: measures PGD-5 accuracy on the probe
 * batch, snapshots all weights (BatchNorm statistics included) on a new
 * best, and writes the snapshot back into the model on a collapse.
 */
export class BestWeightsGuard {
  private readonly guard: OverfitGuard;
  private best?: Float32Array;

  constructor(private readonly probe: GuardProbeOptions) {
    this.guard = new OverfitGuard(probe.maxDrop);
  }

  /** Runs after `epoch` (1-based); on `collapsed` the model already holds the best weights again. */
  async check(model: tf.LayersModel, epoch: number): Promise<GuardCheck> {
    const c = await evaluateCounts(model, this.probe.batch, {
      attack: this.probe.attack ?? 'pgd',
      eps: this.probe.eps,
      steps: OVERFIT_PGD_STEPS,
      seed: deriveSeed(this.probe.seed, epoch) || 1,
      inputShape: this.probe.inputShape,
    });
    const accuracy = c.robustCorrect / Math.max(c.n, 1);
    const verdict = this.guard.observe(epoch, accuracy);
    if (verdict.action === GUARD_ACTIONS.improved) this.best = await readWeights(modelVariables(model));
    else if (verdict.action === GUARD_ACTIONS.collapsed && this.best !== undefined) writeWeights(modelVariables(model), this.best);
    return { ...verdict, accuracy };
  }

  /** The best accuracy, its epoch and the weight snapshot, for checkpoints. */
  snapshot(): GuardSnapshot {
    const st = this.guard.state;
    return { ...st, ...(this.best !== undefined ? { bestWeights: this.best } : {}) };
  }

  /** Restores a {@link snapshot} (resume). */
  restore(s: GuardSnapshot): void {
    this.guard.restore(s);
    this.best = s.bestWeights;
  }
}
