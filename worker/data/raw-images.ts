/** Datasets as loaded from disk, before conversion to the float {@link Split}s the trainer uses. */
import type { Split } from './types.js';

/** `n` images as bytes (NHWC) with their labels: the compact form parsed from files and cached. */
export interface RawImages {
  readonly n: number;
  /** [height, width, channels]. */
  readonly shape: readonly [number, number, number];
  /** Length n * h * w * c, NHWC, 0..255. */
  readonly pixels: Uint8Array;
  /** Length n, class indices. */
  readonly labels: Uint8Array;
}

/** Bytes per image. */
export function imageBytes(raw: Pick<RawImages, 'shape'>): number {
  return raw.shape[0] * raw.shape[1] * raw.shape[2];
}

/**
 * Builds a float split from the images at `indices` (in that order), or from
 * the first `indices` images when given a count. Pixels map to byte / 255.
 */
export function buildSplit(raw: RawImages, indices: Int32Array | number): Split {
  const size = imageBytes(raw);
  const n = typeof indices === 'number' ? indices : indices.length;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  const pixels = raw.pixels;
  for (let i = 0; i < n; i++) {
    const src = typeof indices === 'number' ? i : indices[i]!;
    const off = src * size;
    const dst = i * size;
    for (let k = 0; k < size; k++) x[dst + k] = pixels[off + k]! / 255;
    y[i] = raw.labels[src]!;
  }
  return { n, x, y };
}

