/**
 * Compiled versions of the two hot parts of a training step, which a backend
 * may provide for a given model (the native backend runs them as single
 * TensorFlow graphs: worker/backend/native/graph/). Each computes exactly
 * what the eager code it replaces computes; callers fall back to that code
 * when none is given.
 *
 * Methods are synchronous and may run inside `tf.tidy`; the tensors they
 * return belong to the caller. The model's current weights are read at each
 * call, so one instance serves a whole run.
 */
import type * as tf from '@tensorflow/tfjs';

/** The L-inf sign-gradient iteration shared by FGSM, FGSM-RS and PGD. */
export interface SignAttackArgs {
  readonly x: tf.Tensor4D;
  /** int32 class labels [n]. */
  readonly y: tf.Tensor1D;
  /** Where the iteration starts (already inside the eps-ball and [0, 1]). */
  readonly start: tf.Tensor4D;
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
}

/** One batch of {@link CompiledStep.weightedCrossEntropyGrads}: a training-mode forward pass of its own. */
export interface LossBranch {
  readonly x: tf.Tensor4D;
  /** int32 class labels [n]. */
  readonly y: tf.Tensor1D;
  /** Per-example weight [n]. */
  readonly weight: tf.Tensor1D;
}

/** Loss and weight gradients of {@link CompiledStep.weightedCrossEntropyGrads}. */
export interface LossAndGrads {
  readonly loss: tf.Scalar;
  /** One per trainable weight, in `model.trainableWeights` order. */
  readonly grads: tf.Tensor[];
}

/** A model's compiled step parts; see the module comment. */
export interface CompiledStep {
  /**
   * `steps` times x ← min(max(x + stepSize · sign(∇ₓ Σᵢ CE(f(x)ᵢ, yᵢ)), lo), hi)
   * from `start`, where lo = max(x − eps, 0) and hi = min(x + eps, 1); the
   * model runs in inference mode.
   */
  signAttack(args: SignAttackArgs): tf.Tensor4D;
  /**
   * Σ over branches of Σᵢ wᵢ · CE(f(xᵢ), yᵢ) and its gradient for every
   * trainable weight, the model in training mode. Each branch is one forward
   * pass, as `model.apply(x, { training: true })` would make it: BatchNorm
   * normalizes with that branch's batch statistics, and the moving
   * statistics are updated once per branch, in branch order (a side effect
   * on `model.nonTrainableWeights`, as in the eager step).
   */
  weightedCrossEntropyGrads(branches: readonly LossBranch[]): LossAndGrads;
  /** Releases the compiled graphs. */
  dispose(): void;
}
