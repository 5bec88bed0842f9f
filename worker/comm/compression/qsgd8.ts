/**
 * `qsgd8`: the DAT reference code's 8-bit stochastic quantizer
 * (`RandomQuantizer` in github.com/dat-2022/dat: QSGD-style, Alistarh et al.
 * 2017, with 127 levels plus a sign bit in one uint8), exchanged by all-gather.
 *
 * 1. norm = ‖g‖₂ over the segment: per parameter tensor as in the reference
 *    when the bucket carries its `segments` (training passes them), else the
 *    option's `segments`, else the whole bucket.
 * 2. l = ⌊s|g|/norm⌋, level = l + Bernoulli(s|g|/norm − l), s = 127 levels,
 *    code = 2·level + (g > 0 ? 1 : 0): 7 bits + sign in one byte.
 * 3. All-gather [norm, codes] of every rank; every rank decodes all N messages
 *    value = norm·sign·level/s and averages them in rank order (same bits everywhere).
 *
 * The reference's quirk: it decodes with true division `code/2`, so a
 * positive entry decodes as level + 0.5 (biased, and a zero entry becomes 0.5
 * of a level). We decode ⌊code/2⌋ = level, the unbiased QSGD value; a zero
 * entry gets sign bit 0 and level 0 and decodes to exactly 0.
 *
 * Randomness: a {@link Rng} seeded with deriveSeed(seed, rank, step), drawn
 * once per element in index order, so a run is reproducible and each rank's
 * rounding noise is independent of the others' (unbiased mean).
 */
import { Rng, deriveSeed } from '../../util/rng.js';
import type { CommState, GradBucket } from '../hooks.js';

/** Quantization levels (7 bits). */
export const QSGD_LEVELS = 127;

/** Options of {@link Qsgd8Hook}. */
export interface Qsgd8Options {
  readonly seed: number;
  /** Lengths of the segments quantized with their own norm (e.g. per layer); must sum to the bucket length. @default one segment */
  readonly segments?: readonly number[];
}

/** Quantizes `g` into [norm per segment (f32)][one code byte per element]. */
export function quantizeQsgd8(g: Float32Array, segments: readonly number[], rng: Rng): Uint8Array {
  const out = new Uint8Array(4 * segments.length + g.length);
  const view = new DataView(out.buffer);
  let offset = 0;
  segments.forEach((len, k) => {
    let sq = 0;
    for (let i = offset; i < offset + len; i++) sq += g[i]! * g[i]!;
    const norm = Math.fround(Math.sqrt(sq));
    view.setFloat32(4 * k, norm, true);
    const codes = 4 * segments.length;
    for (let i = offset; i < offset + len; i++) {
      const v = g[i]!;
      const a = norm > 0 ? (QSGD_LEVELS * Math.abs(v)) / norm : 0;
      const l = Math.min(QSGD_LEVELS, Math.floor(a));
      const level = Math.min(QSGD_LEVELS, l + (rng.next() < a - l ? 1 : 0));
      out[codes + i] = 2 * level + (v > 0 ? 1 : 0);
    }
    offset += len;
  });
  return out;
}

/** Adds `weight` × the decoded message into `acc`. */
export function addDequantizedQsgd8(msg: Uint8Array, segments: readonly number[], weight: number, acc: Float32Array): void {
  const want = 4 * segments.length + acc.length;
  if (msg.length !== want) throw new RangeError(`qsgd8 message has ${msg.length} bytes, expected ${want}`);
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const codes = 4 * segments.length;
  let offset = 0;
  segments.forEach((len, k) => {
    const norm = view.getFloat32(4 * k, true);
    for (let i = offset; i < offset + len; i++) {
      const code = msg[codes + i]!;
      const sign = code & 1 ? 1 : -1;
      acc[i] += weight * ((norm * sign * (code >>> 1)) / QSGD_LEVELS);
    }
    offset += len;
  });
}

/** Stateless apart from its hyperparameters; a class so every codec has the same shape (constructor-validated hyperparameters, statistics). */
export class Qsgd8Hook {
  readonly seed: number;
  private readonly segments: readonly number[] | undefined;

  constructor(opts: Qsgd8Options) {
    if (!Number.isInteger(opts.seed)) throw new RangeError(`qsgd8 seed must be an integer, got ${opts.seed}`);
    if (opts.segments?.some((s) => !Number.isInteger(s) || s < 0)) throw new RangeError('qsgd8 segments must be non-negative integers');
    this.seed = opts.seed;
    this.segments = opts.segments;
  }

  readonly hook = async (state: CommState, bucket: GradBucket): Promise<Float32Array> => {
    const c = state.collective;
    const segments = this.segments ?? bucket.segments ?? [bucket.buffer.length];
    const total = segments.reduce((a, b) => a + b, 0);
    if (total !== bucket.buffer.length) throw new RangeError(`qsgd8 segments sum to ${total}, bucket has ${bucket.buffer.length} values`);
    const rng = new Rng(deriveSeed(this.seed, c.rank, bucket.step, bucket.index));
    const mine = quantizeQsgd8(bucket.buffer, segments, rng);
    const all = await c.allgather(mine, { timeoutMs: state.timeoutMs });
    const mean = new Float32Array(bucket.buffer.length);
    for (const msg of all) addDequantizedQsgd8(msg, segments, 1 / c.worldSize, mean);
    return mean;
  };
}
