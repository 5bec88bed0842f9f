/**
 * Fixtures of the compiled-step tests: MNIST-like batches (a third of the
 * pixels exactly 0, some exactly 1, as real digits have, so the [0, 1] clip
 * of the attacks is exercised) and a comparison of two attack outputs.
 */
import * as tf from '@tensorflow/tfjs';
import { buildPreActResNet } from '../../../../../worker/train/models/preact-resnet.js';
import type { HostBatch } from '../../../../../worker/train/train-step.js';
import { Rng } from '../../../../../worker/util/rng.js';

/** [h, w, c] of the batches. */
export const MNIST_SHAPE = [28, 28, 1] as const;
/** [h, w, c] of the preact-resnet batches. */
export const CIFAR_SHAPE = [32, 32, 3] as const;
export const NUM_CLASSES = 10;

/**
 * Gradient tolerance of {@link reducedPreActResNet}: its 8- and 16-channel
 * BatchNorms over a batch of 8 make some gamma/beta gradients sums of
 * nearly cancelling terms, so float32 fixes them only to ~2e-5 relative: the
 * eager tape on the cpu backend and on tensorflow disagree by up to 2.0e-5
 * on the same weights and batch (measured, weights 18-19), as much as the
 * graph does (up to 2.5e-5). A wrong formula (a dropped term of the
 * BatchNorm gradient, a missed shortcut gradient) is off by >1e-2.
 */
export const REDUCED_RESNET_GRAD_REL_TOL = 1e-4;

/** preact-resnet at a reduced stage list (a strided 1×1 shortcut and an identity shortcut; fast). */
export const REDUCED_RESNET_NAME = 'preact-resnet, stages 8/1/1 + 16/2/2';
export function reducedPreActResNet(): tf.LayersModel {
  return buildPreActResNet(CIFAR_SHAPE, NUM_CLASSES, 1, [
    { filters: 8, stride: 1, blocks: 1 },
    { filters: 16, stride: 2, blocks: 2 },
  ]);
}

/** A fluent builder of seeded MNIST-like batches: `mnistBatch(8).seed(3).build()`. */
export class BatchBuilder {
  private seedValue = 1;
  private shapeValue: readonly [number, number, number] = MNIST_SHAPE;

  constructor(private readonly n: number) {}

  seed(s: number): this {
    this.seedValue = s;
    return this;
  }

  /** Another [h, w, c] (same pixel distribution). */
  shape(s: readonly [number, number, number]): this {
    this.shapeValue = s;
    return this;
  }

  build(): HostBatch {
    const rng = new Rng(this.seedValue);
    const [h, w, c] = this.shapeValue;
    const x = new Float32Array(this.n * h * w * c);
    // Uniform on [-0.5, 1.5) clipped: 25% zeros, 25% ones, the rest in between.
    for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, 2 * rng.next() - 0.5));
    const y = Int32Array.from({ length: this.n }, () => rng.nextInt(NUM_CLASSES));
    return { n: this.n, x, y };
  }

  /** The batch as tensors on the current backend (the caller disposes them). */
  tensors(): { x: tf.Tensor4D; y: tf.Tensor1D } {
    const b = this.build();
    return { x: tf.tensor4d(b.x, [b.n, ...this.shapeValue]), y: tf.tensor1d(b.y, 'int32') };
  }
}

export function mnistBatch(n: number): BatchBuilder {
  return new BatchBuilder(n);
}

/** How two attack results on the same x compare. */
export interface AttackComparison {
  /** Pixels where the two results differ at all. */
  readonly differing: number;
  readonly total: number;
  /** Largest |a - b|. */
  readonly maxDiff: number;
  /** Pixels of `b` outside [x - eps, x + eps] ∩ [0, 1] (exact float32 comparison). */
  readonly outside: number;
  /** Pixels where `a` moved away from x (to tell an attack from a no-op). */
  readonly moved: number;
}

/** Compares attack results `a` (reference) and `b` on clean input `x`. */
export function compareAttacks(x: Float32Array, a: Float32Array, b: Float32Array, eps: number): AttackComparison {
  if (a.length !== x.length || b.length !== x.length) throw new Error(`sizes differ: x ${x.length}, a ${a.length}, b ${b.length}`);
  let differing = 0;
  let maxDiff = 0;
  let outside = 0;
  let moved = 0;
  const f32eps = Math.fround(eps);
  for (let i = 0; i < x.length; i++) {
    const ai = a[i]!;
    const bi = b[i]!;
    if (ai !== bi) {
      differing++;
      maxDiff = Math.max(maxDiff, Number.isNaN(ai - bi) ? Infinity : Math.abs(ai - bi));
    }
    // The attacks clamp to float32 max(x - eps, 0) and min(x + eps, 1), computed like this.
    const lo = Math.max(Math.fround(x[i]! - f32eps), 0);
    const hi = Math.min(Math.fround(x[i]! + f32eps), 1);
    if (!(bi >= lo && bi <= hi)) outside++;
    if (ai !== x[i]) moved++;
  }
  return { differing, total: x.length, maxDiff, outside, moved };
}

/**
 * Moves a model's BatchNorm moving statistics away from their initial 0 and
 * 1 with `passes` training-mode forward passes on seeded batches, so that
 * inference mode (the attacks) reads statistics a wrong index or formula
 * would get visibly wrong.
 */
export function warmBatchNorm(model: tf.LayersModel, shape: readonly [number, number, number], passes = 3): void {
  for (let i = 0; i < passes; i++) {
    tf.tidy(() => {
      const { x, y } = mnistBatch(8).shape(shape).seed(900 + i).tensors();
      model.apply(x, { training: true });
      tf.dispose(y);
    });
  }
}

/** Copies of a model's non-trainable weights (BatchNorm moving statistics), to compare or restore. */
export function snapshotStats(model: tf.LayersModel): Float32Array[] {
  return model.nonTrainableWeights.map((v) => Float32Array.from(v.read().dataSync()));
}

/** Writes back a {@link snapshotStats}. */
export function restoreStats(model: tf.LayersModel, stats: readonly Float32Array[]): void {
  model.nonTrainableWeights.forEach((v, i) => {
    const t = tf.tensor(stats[i]!, v.read().shape);
    v.write(t);
    t.dispose(); // the variable keeps the data
  });
}
