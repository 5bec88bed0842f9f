/** Shared types of the optimizers. */
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerId } from '../../../common/contract.js';
import type { OptimizerUpdater } from '../compiled-step.js';

/** Optimizer hyperparameters; each optimizer reads the ones its file documents. */
export interface OptimizerHyper {
  /** Decoupled (LAMB) or L2 (SGD, Adam, LARS) weight decay. */
  readonly weightDecay: number;
  /** Momentum of SGD and LARS. */
  readonly momentum: number;
  /** First-moment decay (LAMB, Adam). @default 0.9 */
  readonly beta1?: number;
  /** Second-moment decay (LAMB, Adam). @default 0.999 */
  readonly beta2?: number;
  /** Denominator guard. @default 1e-6 for LAMB (DAT), 1e-8 for Adam and LARS */
  readonly epsilon?: number;
  /** LAMB: updates after which the second moment v stops changing (lamb.ts). @default never */
  readonly freezeSecondMomentAfter?: number;
}

/** One named state tensor ("slot"), e.g. `m/3`: the first moment of variable 3. */
export interface OptimizerSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Serializable optimizer state, for checkpoints. */
export interface OptimizerState {
  readonly id: OptimizerId;
  /** Updates applied so far (Adam's bias correction needs it). */
  readonly step: number;
  readonly slots: readonly OptimizerSlot[];
}

/**
 * An optimizer's update rule as data (its checked hyperparameters), from
 * which a backend can compile the update; each field is documented in the
 * optimizer's file.
 */
export type UpdateRule =
  | { readonly kind: 'sgd'; readonly momentum: number; readonly weightDecay: number }
  | { readonly kind: 'lars'; readonly momentum: number; readonly epsilon: number; readonly weightDecay: number; readonly trustCoefficient: number }
  | { readonly kind: 'adam'; readonly beta1: number; readonly beta2: number; readonly epsilon: number; readonly weightDecay: number }
  | {
      readonly kind: 'lamb';
      readonly beta1: number;
      readonly beta2: number;
      readonly epsilon: number;
      readonly weightDecay: number;
      readonly weightNormCap: number;
      /** Updates after which v stops changing (lamb.ts); absent: never. */
      readonly freezeSecondMomentAfter?: number;
    };

/** The rule of one optimizer kind. */
export type RuleOf<K extends UpdateRule['kind']> = Extract<UpdateRule, { readonly kind: K }>;

/** The state slots a rule keeps per variable, in input order (SGD and LARS keep none without momentum). */
export function ruleSlotKinds(rule: UpdateRule): readonly string[] {
  switch (rule.kind) {
    case 'sgd':
    case 'lars':
      return rule.momentum === 0 ? [] : ['momentum'];
    case 'adam':
    case 'lamb':
      return ['m', 'v'];
  }
}

/** A gradient-descent update rule with per-variable state. */
export interface Optimizer {
  readonly id: OptimizerId;
  /**
   * One update of every variable with its (already averaged) gradient, at
   * learning rate `lr`. Runs inside `tf.tidy`, creates state lazily on the
   * first call, and disposes its temporaries. `vars` must come in the same
   * order on every call; state is keyed by position. `updater` computes the
   * new values (the run's step engine: eager, or one compiled call; eager
   * when not given); the optimizer keeps the state.
   */
  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number, updater?: OptimizerUpdater): void;
  /** The update rule, which {@link apply}'s `updater` runs (update-rules.ts). */
  readonly rule: UpdateRule;
  /** A copy of the state (reads tensors synchronously; call outside the hot path). */
  getState(): OptimizerState;
  /** Replaces the state with `s` (e.g. from a checkpoint). */
  setState(s: OptimizerState): void;
  /** Releases the state tensors. */
  dispose(): void;
}
