/**
 * Training-batch augmentation, as in the DAT reference's CIFAR-10 pipeline
 * (torchvision `RandomCrop(32, padding=4)` + `RandomHorizontalFlip()`): each
 * image is zero-padded by 4 pixels on every side, a window of the original
 * size is cut at a uniformly random offset in [0, 8] × [0, 8], and the window
 * is mirrored left-right with probability 1/2.
 *
 * Two halves, so that the random part is plain data and the tensor part has
 * no randomness of its own:
 *
 * 1. {@link drawCropFlip} draws the offsets and flips on the host from a
 *    seed. The epoch phase derives that seed from (seed, rank, epoch, step),
 *    so a resumed run draws exactly what the uninterrupted run drew, with no
 *    generator state in the checkpoint.
 * 2. {@link applyCropFlip} applies them with pure tensor ops (pad, one
 *    gather) inside `tf.tidy`: the flip is folded into the gather's indices,
 *    so the whole augmentation is one kernel after the pad, and it leaves no
 *    tensors behind.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../common/errors.js';
import { Rng } from '../util/rng.js';

/** Zero padding on each side before the crop, in pixels (the reference's `padding=4`). */
export const CROP_PADDING = 4;

/** The random choices for one batch. */
export interface CropFlip {
  /** Zero padding on each side; offsets lie in [0, 2 * pad]. */
  readonly pad: number;
  /** Row offset of each example's window in the padded image. */
  readonly dy: Int32Array;
  /** Column offset of each example's window in the padded image. */
  readonly dx: Int32Array;
  /** 1 where the example is mirrored left-right. */
  readonly flip: Uint8Array;
}

/**
 * Draws the crop offsets and flips of `n` examples from `seed`, in a fixed
 * order (per example: row offset, column offset, flip), so the same seed
 * gives the same choices on every backend and every run.
 */
export function drawCropFlip(n: number, seed: number, pad: number = CROP_PADDING): CropFlip {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`drawCropFlip: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(pad) || pad < 0) throw new ConfigError(`drawCropFlip: pad must be a non-negative integer, got ${pad}`);
  const rng = new Rng(seed);
  const dy = new Int32Array(n);
  const dx = new Int32Array(n);
  const flip = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    dy[i] = rng.nextInt(2 * pad + 1);
    dx[i] = rng.nextInt(2 * pad + 1);
    flip[i] = rng.next() < 0.5 ? 1 : 0;
  }
  return { pad, dy, dx, flip };
}

/**
 * Flat indices into the padded batch, reshaped to [n * (h + 2p) * (w + 2p), c],
 * of every output pixel: example i's pixel (y, x) reads padded pixel
 * (y + dy, x' + dx), where x' = w - 1 - x when the example is flipped.
 */
export function cropFlipIndices(plan: CropFlip, h: number, w: number): Int32Array {
  const n = plan.dy.length;
  const ph = h + 2 * plan.pad;
  const pw = w + 2 * plan.pad;
  const idx = new Int32Array(n * h * w);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const base = i * ph * pw;
    const dy = plan.dy[i]!;
    const dx = plan.dx[i]!;
    const flipped = plan.flip[i] === 1;
    for (let y = 0; y < h; y++) {
      const row = base + (y + dy) * pw + dx;
      for (let x = 0; x < w; x++) idx[k++] = row + (flipped ? w - 1 - x : x);
    }
  }
  return idx;
}

/** `x` ([n, h, w, c]) cropped and flipped as `plan` says; a new tensor (the caller owns it). */
export function applyCropFlip(x: tf.Tensor4D, plan: CropFlip): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (plan.dy.length !== n) throw new ConfigError(`applyCropFlip: the plan covers ${plan.dy.length} examples, the batch has ${n}`);
  const idx = cropFlipIndices(plan, h, w);
  return tf.tidy(() => {
    const p = plan.pad;
    const padded = tf.pad(x, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
    const pixels = tf.reshape(padded, [-1, c]);
    return tf.reshape(tf.gather(pixels, tf.tensor1d(idx, 'int32')), [n, h, w, c]);
  });
}
