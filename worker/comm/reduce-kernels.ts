/**
 * The ring's inner loops over float32 buffers, each a small standalone
 * function over `Float32Array` arguments only.
 *
 * Why standalone: profiled at N = 3, 64 MiB, the same loops written inline in
 * the async `ringAllreduce` ran at roughly 15 ns per element (V8 did not
 * optimise them there), against about 2 ns here; they were the largest single
 * CPU cost of an all-reduce (see docs/collective.md). Where the native addon is
 * built (native/kernels), the C twins run instead: the same bits, a few times faster.
 */
import { nativeKernelsStatus } from './native-kernels.js';

const native = nativeKernelsStatus.kernels;

/** Index of the first NaN or ±Inf in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  return native !== undefined ? native.firstNonFinite(a) : firstNonFiniteJs(a);
}

/** {@link firstNonFinite} in TypeScript (the path without the addon, and its reference). */
export function firstNonFiniteJs(a: Float32Array): number {
  // One pass without a branch per element: v - v is 0 for every finite v and NaN for NaN and ±Inf,
  // and a NaN in the running sum stays NaN. Only a buffer that holds one is scanned again for its index.
  let acc = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    acc += v - v;
  }
  return acc === 0 ? -1 : scanNonFinite(a);
}

function scanNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * `dst[i] += src[i]` in float32 (the sum is rounded to float32 exactly as
 * `dst[i] += src[i]` on a Float32Array is); returns the index of the first
 * non-finite sum, or -1. Overflow to ±Inf is caught on the stored float32.
 */
export function addIntoChecked(dst: Float32Array, src: Float32Array): number {
  const n = dst.length;
  if (src.length < n) throw new RangeError(`addIntoChecked: source of ${src.length} elements is shorter than the destination's ${n}`);
  return native !== undefined ? native.sumIntoChecked(dst, dst, src) : addIntoCheckedJs(dst, src);
}

/** {@link addIntoChecked} in TypeScript. */
export function addIntoCheckedJs(dst: Float32Array, src: Float32Array): number {
  const n = dst.length;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(dst[i]! + src[i]!);
    dst[i] = v;
    acc += v - v;
  }
  return acc === 0 ? -1 : scanNonFinite(dst);
}

/**
 * `dst[i] = a[i] + b[i]` in float32 (bitwise what `dst[i] = a[i]; dst[i] += b[i]`
 * gives); returns the index of the first non-finite sum, or -1. Lets the ring
 * write each output element once instead of copying the input first.
 */
export function sumIntoChecked(dst: Float32Array, a: Float32Array, b: Float32Array): number {
  const n = dst.length;
  if (a.length < n || b.length < n) throw new RangeError(`sumIntoChecked: sources of ${a.length} and ${b.length} elements are shorter than the destination's ${n}`);
  return native !== undefined ? native.sumIntoChecked(dst, a, b) : sumIntoCheckedJs(dst, a, b);
}

/** {@link sumIntoChecked} in TypeScript. */
export function sumIntoCheckedJs(dst: Float32Array, a: Float32Array, b: Float32Array): number {
  const n = dst.length;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(a[i]! + b[i]!);
    dst[i] = v;
    acc += v - v;
  }
  return acc === 0 ? -1 : scanNonFinite(dst);
}

/** Copies `src` into `dst` (same length); returns the index of the first non-finite value, or -1. */
export function copyChecked(dst: Float32Array, src: Float32Array): number {
  dst.set(src.subarray(0, dst.length));
  return firstNonFinite(dst);
}
