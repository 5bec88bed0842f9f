/** Operations on {@link Split}s: subsets, concatenation and batch gathering. */
import { ConfigError } from '../../common/errors.js';
import type { Split } from './types.js';

/** Floats per example (h * w * c). */
export function exampleSize(split: Split): number {
  return split.n === 0 ? 0 : split.x.length / split.n;
}

/** A new split holding the examples at `indices`, in that order (copies). */
export function subsetSplit(split: Split, indices: ArrayLike<number>): Split {
  return gatherBatch(split, indices);
}

/** One batch gathered from a split; `x` and `y` may be reused buffers longer than needed. */
export interface Batch {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Int32Array;
}

/**
 * Copies the examples at `indices` into `out` (when given and large enough:
 * reuse across steps avoids a 100 KB+ allocation per step) or new arrays.
 * The returned arrays are exactly `n` examples long (subarrays of `out`).
 */
export function gatherBatch(split: Split, indices: ArrayLike<number>, out?: { x: Float32Array; y: Int32Array }): Batch {
  const size = exampleSize(split);
  const n = indices.length;
  const x = out !== undefined && out.x.length >= n * size ? out.x.subarray(0, n * size) : new Float32Array(n * size);
  const y = out !== undefined && out.y.length >= n ? out.y.subarray(0, n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices[i]!;
    if (!Number.isInteger(src) || src < 0 || src >= split.n) throw new ConfigError(`example index ${src} out of range [0, ${split.n})`);
    x.set(split.x.subarray(src * size, (src + 1) * size), i * size);
    y[i] = split.y[src]!;
  }
  return { n, x, y };
}

/** Concatenates splits of the same example size, in order. */
export function concatSplits(...splits: Split[]): Split {
  const nonEmpty = splits.filter((s) => s.n > 0);
  const size = nonEmpty.length === 0 ? 0 : exampleSize(nonEmpty[0]!);
  for (const s of nonEmpty) {
    if (exampleSize(s) !== size) throw new ConfigError(`cannot concatenate splits with ${exampleSize(s)} and ${size} values per example`);
  }
  const n = nonEmpty.reduce((a, s) => a + s.n, 0);
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  let at = 0;
  for (const s of nonEmpty) {
    x.set(s.x, at * size);
    y.set(s.y, at);
    at += s.n;
  }
  return { n, x, y };
}
