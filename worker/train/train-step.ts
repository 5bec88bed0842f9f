/**
 * One data-parallel training step, split in two so the ring all-reduce can
 * run in between (style guide §11):
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
import type { AttackId, LossId } from '../contract.js';
import { getAttack, type AttackParams } from './attacks/index.js';
import type { CompiledStep } from './compiled-step.js';
import { computeLoss } from './losses.js';
import { applyCropFlip, type CropFlip } from './augment.js';
import type { Optimizer } from './optimizers/index.js';
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

/** Losses that also need the model's logits on the clean inputs. */
const NEEDS_CLEAN_LOGITS: ReadonlySet<LossId> = new Set<LossId>(['adv-clean', 'trades']);

/**
 * The loss's gradient through a compiled step, for the losses that are a
 * weighted cross-entropy: `adv` is Σ CE(x_adv)/n, `adv-clean` adds λ·Σ CE(x)/n
 * as a second forward pass (as the eager code's second `model.apply`, which
 * matters for BatchNorm's batch statistics and moving averages). Undefined
 * for other losses (TRADES' KL term), which run eagerly.
 */
function compiledLossGrads(compiled: CompiledStep, cfg: StepConfig, x: tf.Tensor4D, xAdv: tf.Tensor4D, y: tf.Tensor1D): { value: tf.Scalar; grads: tf.Tensor[] } | undefined {
  const n = x.shape[0];
  let r;
  if (cfg.loss === 'adv') r = compiled.weightedCrossEntropyGrads([{ x: xAdv, y, weight: tf.fill([n], 1 / n) as tf.Tensor1D }]);
  else if (cfg.loss === 'adv-clean') {
    if (!Number.isFinite(cfg.lambda) || cfg.lambda < 0) return undefined; // computeLoss reports it
    const advWeight = tf.fill([n], 1 / n) as tf.Tensor1D;
    const cleanWeight = tf.fill([n], cfg.lambda / n) as tf.Tensor1D;
    r =
      xAdv === x
        ? // No attack: the eager code runs one forward pass and uses its logits twice; so does one stacked branch.
          compiled.weightedCrossEntropyGrads([{ x: tf.concat([x, x]), y: tf.concat([y, y]), weight: tf.concat([advWeight, cleanWeight]) }])
        : compiled.weightedCrossEntropyGrads([
            { x: xAdv, y, weight: advWeight },
            { x, y, weight: cleanWeight },
          ]);
  } else return undefined;
  return { value: r.loss, grads: r.grads };
}

/**
 * Builds the batch tensors, runs the attack (model in inference mode), then
 * the loss with the model in training mode, and returns the gradient of every
 * trainable weight fused into one buffer.
 *
 * `attackSeed` varies the attack's random start from step to step and rank
 * to rank while staying reproducible. With `compiled` (the same model's
 * compiled step), the attack and the loss gradient run as graphs where it
 * supports them.
 */
export async function computeGradients(
  model: tf.LayersModel,
  batch: HostBatch,
  cfg: StepConfig,
  attackSeed: number,
  compiled?: CompiledStep,
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
    const xAdv = attackFn === undefined ? x : attackFn(model, x, y, params, compiled);
    // The cpu, wasm and native CPU backends run kernels as they are called, so this is the attack's
    // end; on an asynchronous device queued attack kernels would finish (and count) in the gradient part.
    tAttack = performance.now();
    const fromGraph = compiled === undefined ? undefined : compiledLossGrads(compiled, cfg, x, xAdv, y);
    if (fromGraph !== undefined) return { value: fromGraph.value, grads: Object.fromEntries(vars.map((v, i) => [v.name, fromGraph.grads[i]!])) };
    return tf.variableGrads(() => {
      const logitsAdv = model.apply(xAdv, { training: true }) as tf.Tensor2D;
      const logitsClean = NEEDS_CLEAN_LOGITS.has(cfg.loss)
        ? xAdv === x
          ? logitsAdv
          : (model.apply(x, { training: true }) as tf.Tensor2D)
        : undefined;
      return computeLoss(cfg.loss, { logitsAdv, logitsClean, labels: y, numClasses: cfg.numClasses, lambda: cfg.lambda, beta: cfg.beta });
    }, vars);
  });
  try {
    const ordered = vars.map((v) => grads[v.name]);
    if (ordered.some((g) => g === undefined)) {
      // A variable the loss does not depend on has no gradient; give it zeros so the layout stays fixed.
      for (let i = 0; i < vars.length; i++) if (ordered[i] === undefined) ordered[i] = tf.zerosLike(vars[i]!);
    }
    const flatGrad = await flattenTensors(ordered as tf.Tensor[]);
    const loss = (await value.data())[0]!;
    tf.dispose(ordered.filter((g, i) => g !== grads[vars[i]!.name]));
    return { flatGrad, loss, attackSeconds: (tAttack - t0) / 1000, gradientSeconds: (performance.now() - tAttack) / 1000 };
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}

/**
 * Applies the (ring-averaged) flat gradient: unflattens it in the layout of
 * `model.trainableWeights` and runs one optimizer update at `lr` (through
 * `compiled` when given: the same update as one call).
 */
export function applyGradients(model: tf.LayersModel, optimizer: Optimizer, meanFlatGrad: Float32Array, lr: number, compiled?: CompiledStep): void {
  const vars = trainableVariables(model);
  const grads = unflattenLike(meanFlatGrad, vars);
  try {
    optimizer.apply(vars, grads, lr, compiled);
  } finally {
    tf.dispose(grads);
  }
}
