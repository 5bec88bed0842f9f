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
 * Randomness: a {@link Rng} seeded with deriveSeed(seed, rank, step, bucket),
 * drawn once per element in index order (inlined in the loop for speed), so a run is reproducible and each rank's
 * rounding noise is independent of the others' (unbiased mean).
 */
import { Rng, deriveSeed } from '../../util/rng.js';
import { BucketScratch } from '../bucket-scratch.js';
import type { CommState, GradBucket } from '../hooks.js';
import { nativeKernelsStatus, type NativeKernels } from '../native-kernels.js';

/** The C kernels when built (native/kernels; bit-identical to the TypeScript below). */
const native = nativeKernelsStatus.kernels;

/** Quantization levels (7 bits). */
export const QSGD_LEVELS = 127;

/** Options of {@link Qsgd8Hook}. */
export interface Qsgd8Options {
  readonly seed: number;
  /** Lengths of the segments quantized with their own norm (e.g. per layer); must sum to the bucket length. @default one segment */
  readonly segments?: readonly number[];
}

/**
 * Quantizes `g` into [norm per segment (f32)][one code byte per element],
 * into `out` when given (it must have 4·segments + length bytes).
 *
 * The uniform draws are `rng`'s mulberry32 stream inlined here (its state is
 * read once and written back), so the codes are the same as drawing
 * `rng.next()` per element, without a method call per value.
 */
export function quantizeQsgd8(g: Float32Array, segments: readonly number[], rng: Rng, out?: Uint8Array): Uint8Array {
  return quantizeWith(native ?? JS_KERNELS, g, segments, rng, out);
}

/** {@link quantizeQsgd8} in TypeScript (the path without the native addon, and its reference). */
export function quantizeQsgd8Js(g: Float32Array, segments: readonly number[], rng: Rng, out?: Uint8Array): Uint8Array {
  return quantizeWith(JS_KERNELS, g, segments, rng, out);
}

/** The two per-segment kernels, in TypeScript or C. */
type QuantizeKernels = Pick<NativeKernels, 'sumSquares' | 'quantizeSegment'>;
const JS_KERNELS: QuantizeKernels = { sumSquares, quantizeSegment };

function quantizeWith(k: QuantizeKernels, g: Float32Array, segments: readonly number[], rng: Rng, out?: Uint8Array): Uint8Array {
  const codes = 4 * segments.length;
  const bytes = out ?? new Uint8Array(codes + g.length);
  if (bytes.length !== codes + g.length) throw new RangeError(`qsgd8 output has ${bytes.length} bytes, expected ${codes + g.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let s = rng.state | 0;
  let offset = 0;
  for (let i = 0; i < segments.length; i++) {
    const end = offset + segments[i]!;
    const norm = Math.fround(Math.sqrt(k.sumSquares(g, offset, end)));
    view.setFloat32(4 * i, norm, true);
    s = k.quantizeSegment(g, offset, end, norm, bytes, codes, s);
    offset = end;
  }
  rng.state = s >>> 0;
  return bytes;
}

/** Σ g[i]² over [a, b), sequentially (the order the reference uses). */
function sumSquares(g: Float32Array, a: number, b: number): number {
  let sq = 0;
  for (let i = a; i < b; i++) sq += g[i]! * g[i]!;
  return sq;
}

/** Codes of g[a..b) into bytes[at + i]; `s` is the mulberry32 state, returned advanced. */
function quantizeSegment(g: Float32Array, a: number, b: number, norm: number, bytes: Uint8Array, at: number, s: number): number {
  // QSGD_LEVELS spelled as a literal: with the module binding in Math.min, V8
  // ran this loop at 10.5 ns per value, with the literal at 6.6 (measured).
  // The tests decode with QSGD_LEVELS, so a mismatch would fail them.
  const levels = 127;
  for (let i = a; i < b; i++) {
    const v = g[i]!;
    const x = norm > 0 ? (levels * Math.abs(v)) / norm : 0;
    // x <= levels (|v| <= ‖g‖₂; a float32-rounded norm can push it a hair over), so x | 0 is
    // min(levels, ⌊x⌋) for every reachable x below levels + 1, without a float floor.
    const l = x | 0;
    // mulberry32 (worker/util/rng.ts), one draw per element in index order.
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    // +(…) rather than `? 1 : 0`: no branch on a random outcome (see bit-pack.ts).
    const up = l + +(u < x - l);
    const level = up > levels ? levels : up;
    bytes[at + i] = 2 * level + +(v > 0);
  }
  return s;
}

/**
 * Adds `weight` × the decoded message into `acc`: per segment, a 256-entry
 * table of weight·(norm·sign·level/s) indexed by the code byte, the same
 * arithmetic as decoding each value on its own.
 */
export function addDequantizedQsgd8(msg: Uint8Array, segments: readonly number[], weight: number, acc: Float32Array): void {
  addDequantizedWith(native?.addCodes ?? addCodes, msg, segments, weight, acc);
}

/** {@link addDequantizedQsgd8} in TypeScript. */
export function addDequantizedQsgd8Js(msg: Uint8Array, segments: readonly number[], weight: number, acc: Float32Array): void {
  addDequantizedWith(addCodes, msg, segments, weight, acc);
}

/** acc[i] += table[msg[codesAt + i]] for i in [a, b). */
function addCodes(msg: Uint8Array, codesAt: number, a: number, b: number, table: Float64Array, acc: Float32Array): void {
  for (let i = a; i < b; i++) acc[i] += table[msg[codesAt + i]!]!;
}

function addDequantizedWith(add: NativeKernels['addCodes'], msg: Uint8Array, segments: readonly number[], weight: number, acc: Float32Array): void {
  const want = 4 * segments.length + acc.length;
  if (msg.length !== want) throw new RangeError(`qsgd8 message has ${msg.length} bytes, expected ${want}`);
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const codes = 4 * segments.length;
  const table = new Float64Array(256);
  let offset = 0;
  for (let k = 0; k < segments.length; k++) {
    const norm = view.getFloat32(4 * k, true);
    for (let code = 0; code < 256; code++) table[code] = weight * ((norm * (code & 1 ? 1 : -1) * (code >>> 1)) / QSGD_LEVELS);
    const end = offset + segments[k]!;
    add(msg, codes, offset, end, table, acc);
    offset = end;
  }
}

/** Stateless apart from its hyperparameters; a class so every codec has the same shape (constructor-validated hyperparameters, statistics). */
export class Qsgd8Hook {
  readonly seed: number;
  private readonly scratch = new BucketScratch();
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
    const mean = this.scratch.take('mean', bucket.index, bucket.buffer.length, true);
    for (const msg of all) addDequantizedQsgd8(msg, segments, 1 / c.worldSize, mean);
    return mean;
  };
}
