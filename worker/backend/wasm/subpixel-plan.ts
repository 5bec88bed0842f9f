/**
 * Plans a transposed convolution (the input gradient of a strided
 * convolution) as `stride^2` ordinary stride-1 convolutions, one per output
 * phase, which the wasm backend runs on XNNPACK.
 *
 * Along one axis, forward `y[o] = sum_t x[o*s - p + t] * w[t]` gives
 * `dx[q*s + r] = sum_j dy[q + a_r - j] * w[j*s + b_r]` with
 * `a_r = floor((r + p) / s)`, `b_r = (r + p) mod s` and
 * `j < J_r = ceil((k - b_r) / s)`: phase r of dx is a correlation of dy with
 * the flipped sub-filter of taps `b_r, b_r + s, ...`, padded by
 * `J_r - 1 - a_r` before. Every phase is computed at the common length
 * `ceil(in / s)` and rows past the input are dropped when interleaving.
 * No multiply is wasted, unlike a zero-dilated `dy`.
 */

/** One phase along one axis. */
export interface AxisPhase {
  /** Residue of the input index (`dx` index = q*stride + residue). */
  readonly residue: number;
  /** Forward-filter tap of sub-filter element j is `j*stride + firstTap`. */
  readonly firstTap: number;
  /** Sub-filter length J. */
  readonly taps: number;
  readonly padBefore: number;
  readonly padAfter: number;
}

/** All phases along one axis, computed at the common output length. */
export interface AxisPlan {
  readonly stride: number;
  /** Common phase output length, ceil(inSize / stride). */
  readonly length: number;
  readonly phases: readonly AxisPhase[];
}

/**
 * Plans one axis, or returns undefined when some phase cannot be expressed as
 * a padded stride-1 convolution (no taps, or negative padding), in which case
 * the caller uses another method.
 */
export function planAxis(inSize: number, outSize: number, kernel: number, stride: number, padBefore: number): AxisPlan | undefined {
  const length = Math.ceil(inSize / stride);
  const phases: AxisPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const a = Math.floor((r + padBefore) / stride);
    const b = (r + padBefore) % stride;
    const taps = b < kernel ? Math.ceil((kernel - b) / stride) : 0;
    const pb = taps - 1 - a;
    const pa = length + taps - 1 - pb - outSize;
    if (taps === 0 || pb < 0 || pa < 0) return undefined;
    phases.push({ residue: r, firstTap: b, taps, padBefore: pb, padAfter: pa });
  }
  return { stride, length, phases };
}
