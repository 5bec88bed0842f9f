/**
 * One data-parallel training step, split in two so the ring all-reduce can
 * run in between (an `await` never sits inside a `tf.tidy`, so the step
 * cannot be one tidy; see docs/architecture.md, "One training step"):
 *
 * 1. `computeGradients`: attack → x_adv, loss, gradients of the trainable
 *    weights, fused into one flat Float32Array (values awaited).
 * 2. The caller reduces the flat gradient over the ring (a `GradientReducer`).
 * 3. `applyGradients`: unflatten the mean gradient and let the optimizer
 *    update the variables at the scheduled learning rate.
 *
 * Every tensor created here is disposed before the functions return, so
 * `tf.memory().numTensors` stays flat from step to step.
 */
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import type { AttackId, LossId } from '../../common/contract.js';
import { getAttack, type AttackParams } from './attacks/index.js';
import { applyCropFlip, type CropFlip } from './augment.js';
import type { Optimizer } from './optimizers/index.js';
import type { StepEngine } from './step-engine.js';
import { flattenTensors, trainableVariables, unflattenLike } from './variables.js';

/** A batch of examples as flat host arrays (NHWC images in [0, 1], class labels). */
export interface HostBatch {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Int32Array;
  /** Random crop and flip applied to `x` before the attack (none when absent). */
  readonly augment?: CropFlip;
}

/** What a training step computes; built once per run from the TrainOptions. */
export interface StepConfig {
  readonly attack: AttackId;
  /** Attack hyperparameters; `seed` is overridden per step by {@link computeGradients}' `attackSeed`. */
  readonly attackParams: AttackParams;
  readonly loss: LossId;
  readonly lambda: number;
  readonly beta: number;
  readonly numClasses: number;
  /** [height, width, channels] of one example. */
  readonly inputShape: readonly [number, number, number];
}

/** Result of {@link computeGradients}. */
export interface StepGradients {
  /** Gradients of all trainable weights, in `model.trainableWeights` order, fused. */
  readonly flatGrad: Float32Array;
  /** The batch's training loss. */
  readonly loss: number;
  /** Seconds spent crafting the adversarial batch. */
  readonly attackSeconds: number;
  /** Seconds from the adversarial batch to the gradient and loss on the host. */
  readonly gradientSeconds: number;
}

/**
 * Builds the batch tensors, runs the attack (model in inference mode), then
 * the loss with the model in training mode, and returns the gradient of every
 * trainable weight fused into one buffer.
 *
 * `attackSeed` varies the attack's random start from step to step and rank
 * to rank while staying reproducible. `engine` (chosen once per run) runs
 * the attack's L-inf iteration and the loss gradient, op by op or as the
 * model's compiled graphs.
 */
export async function computeGradients(
  model: tf.LayersModel,
  batch: HostBatch,
  cfg: StepConfig,
  attackSeed: number,
  engine: StepEngine,
): Promise<StepGradients> {
  const vars = trainableVariables(model);
  const attackFn = getAttack(cfg.attack);
  const params: AttackParams = { ...cfg.attackParams, seed: attackSeed };
  const [h, w, c] = cfg.inputShape;
  const t0 = performance.now();
  let tAttack = t0;
  const { value, grads } = tf.tidy(() => {
    const raw = tf.tensor4d(batch.x, [batch.n, h, w, c]);
    const x = batch.augment === undefined ? raw : applyCropFlip(raw, batch.augment);
    const y = tf.tensor1d(batch.y, 'int32');
    // The attack is a constant w.r.t. the weights: computed outside variableGrads.
    const xAdv = attackFn === undefined ? x : attackFn(model, x, y, params, engine);
    // The cpu, wasm and native CPU backends run kernels as they are called, so this is the attack's
    // end; on an asynchronous device queued attack kernels would finish (and count) in the gradient part.
    tAttack = performance.now();
    const r = engine.lossGradients(model, cfg, x, xAdv, y);
    // A variable the loss does not depend on has no gradient; zeros keep the layout fixed.
    return { value: r.value, grads: r.grads.map((g, i) => g ?? tf.zerosLike(vars[i]!)) };
  });
  try {
    const flatGrad = await flattenTensors(grads);
    const loss = (await value.data())[0]!;
    return { flatGrad, loss, attackSeconds: (tAttack - t0) / 1000, gradientSeconds: (performance.now() - tAttack) / 1000 };
  } finally {
    tf.dispose([value, ...grads]);
  }
}

/**
 * Applies the (ring-averaged) flat gradient: unflattens it in the layout of
 * `model.trainableWeights` and runs one optimizer update at `lr`, its
 * arithmetic run by `engine` (op by op, or as one compiled call).
 */
export function applyGradients(model: tf.LayersModel, optimizer: Optimizer, meanFlatGrad: Float32Array, lr: number, engine: StepEngine): void {
  const vars = trainableVariables(model);
  const grads = unflattenLike(meanFlatGrad, vars);
  try {
    optimizer.apply(vars, grads, lr, engine);
  } finally {
    tf.dispose(grads);
  }
}
