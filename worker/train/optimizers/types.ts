/** Shared types of the optimizers. */
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerId } from '../../contract.js';

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

/** A gradient-descent update rule with per-variable state. */
export interface Optimizer {
  readonly id: OptimizerId;
  /**
   * One update of every variable with its (already averaged) gradient, at
   * learning rate `lr`. Runs inside `tf.tidy`, creates state lazily on the
   * first call, and disposes its temporaries. `vars` must come in the same
   * order on every call; state is keyed by position.
   */
  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void;
  /** A copy of the state (reads tensors synchronously; call outside the hot path). */
  getState(): OptimizerState;
  /** Replaces the state with `s` (e.g. from a checkpoint). */
  setState(s: OptimizerState): void;
  /** Releases the state tensors. */
  dispose(): void;
}
