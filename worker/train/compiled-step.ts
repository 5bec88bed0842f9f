/**
 * Compiled versions of the hot parts of a training step (attack, loss
 * gradient, optimizer update), which a backend may provide for a given model
 * (the native backend runs each as one TensorFlow graph:
 * worker/backend/native/graph/). Each computes exactly what the eager step
 * computes. Training reaches it through compiled-step-engine.ts, the step
 * engine chosen at setup (step-engine.ts); the eager engine runs otherwise.
 *
 * Methods are synchronous and may run inside `tf.tidy`; the tensors they
 * return belong to the caller. The model's current weights are read at each
 * call, so one instance serves a whole run.
 */
import type * as tf from '@tensorflow/tfjs';
import type { UpdateRule } from './optimizers/types.js';

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

/** One optimizer update of {@link OptimizerUpdater.optimizerUpdate}. */
export interface OptimizerUpdateArgs {
  readonly rule: UpdateRule;
  /** The update's 1-based count (Adam's bias correction). */
  readonly step: number;
  readonly lr: number;
  readonly vars: readonly tf.Tensor[];
  readonly grads: readonly tf.Tensor[];
  /** slots[k][i]: slot kind k (in `ruleSlotKinds(rule)` order) of variable i. */
  readonly slots: readonly (readonly tf.Tensor[])[];
}

/** The new values of {@link OptimizerUpdateArgs}' vars and slots, in the same layout. */
export interface OptimizerUpdateResult {
  readonly vars: tf.Tensor[];
  readonly slots: tf.Tensor[][];
}

/** Runs an optimizer's update rule (the eager `Optimizer.apply`'s arithmetic) in one call. */
export interface OptimizerUpdater {
  optimizerUpdate(args: OptimizerUpdateArgs): OptimizerUpdateResult;
}

/** A model's compiled step parts; see the module comment. */
export interface CompiledStep extends OptimizerUpdater {
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
