/**
 * `sign-ef`: scaled sign with error feedback as a compressed ring (the 1-bit
 * Adam `compressed_allreduce` shape: Tang et al. 2021, "1-bit Adam", and
 * deepspeed/runtime/comm/nccl.py in github.com/deepspeedai/DeepSpeed),
 * with EF-SignSGD's scale ‖p‖₁/d, taken per piece: the bucket's segments
 * (one per parameter tensor when the caller passes them, as EF-SignSGD
 * compresses layer by layer) cut at the ring's chunk bounds. One scale for a
 * chunk spanning layers would give a layer with small gradients (a bias, the
 * first conv) the magnitude of its large neighbour.
 *
 * For ring chunk c (owned by rank c; chunk bounds as in the ring all-reduce),
 * and each piece q of it:
 * 1. Worker: p = g + e_worker; scale_q = ‖p_q‖₁/|q|,
 *    e_worker_q = p_q − scale_q·sgn(p_q) (sgn(0) = +1).
 * 2. Compressed reduce-scatter: all-to-all of [scales of c's pieces, packed
 *    sgn(p_c)], so the owner of c receives every rank's compressed chunk c.
 * 3. Owner ("server"): m = Σᵢ (scaleᵢ/N)·sgnᵢ + e_server; per piece,
 *    scale_s = ‖m_q‖₁/|q|, e_server = m − scale_s·sgn(m).
 * 4. Compressed all-gather of [server scales, packed sgn(m)]; every rank
 *    decodes every chunk, identical bits on all ranks.
 * Wire: about 2(N−1)/N·d/8 bytes per rank (plus 4 bytes per piece), 1/32 of
 * an fp32 ring.
 *
 * State (per bucket index): the worker error (d floats) and the server error
 * for the owned chunk (d/N floats). Both start at zero and stay zero during
 * uncompressed warm-up.
 */
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import { UnsupportedOperationError } from '../ring-errors.js';
import { chunkBounds } from '../ring-allreduce.js';
import type { CommState, GradBucket } from '../hooks.js';
import { packSigns, signAt } from './bit-pack.js';

/** ‖x‖₁ / length (0 for an empty slice). */
export function l1Scale(x: Float32Array): number {
  if (x.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!);
  return Math.fround(s / x.length);
}

/** x ← x − scale·sgn(x), with sgn(0) = +1: what the compressed message failed to carry. */
export function subtractScaledSign(x: Float32Array, scale: number): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! - (x[i]! >= 0 ? scale : -scale);
}

/** Cumulative ends of `segments` (lengths summing to `d`); one segment when absent. */
export function segmentEnds(d: number, segments: readonly number[] | undefined): number[] {
  if (segments === undefined) return [d];
  const ends: number[] = [];
  let end = 0;
  for (const len of segments) {
    if (!Number.isInteger(len) || len < 0) throw new RangeError(`sign-ef: segment lengths must be integers >= 0, got ${len}`);
    end += len;
    ends.push(end);
  }
  if (end !== d) throw new RangeError(`sign-ef: segments sum to ${end} but the bucket has ${d} values`);
  return ends;
}

/** Lengths of the pieces of [a, b) cut at segment ends (empty pieces dropped; one piece for an empty range). */
export function pieceLengths(a: number, b: number, ends: readonly number[]): number[] {
  const out: number[] = [];
  let start = a;
  for (const end of ends) {
    if (end <= start) continue;
    const stop = Math.min(end, b);
    if (stop > start) out.push(stop - start);
    start = stop;
    if (start >= b) break;
  }
  return out.length === 0 ? [b - a] : out;
}

/**
 * One wire block for `x` cut into `pieces`: a float32 scale per piece
 * (‖x_q‖₁/|q|), then the packed signs of all of x. Leaves the residual
 * x − scale·sgn(x) in `x` (the error to feed back).
 */
export function compressPieces(x: Float32Array, pieces: readonly number[]): Uint8Array {
  const bits = packSigns(x);
  const out = new Uint8Array(4 * pieces.length + bits.length);
  const view = new DataView(out.buffer);
  let at = 0;
  pieces.forEach((len, q) => {
    const piece = x.subarray(at, at + len);
    const scale = l1Scale(piece);
    view.setFloat32(4 * q, scale, true);
    subtractScaledSign(piece, scale);
    at += len;
  });
  out.set(bits, 4 * pieces.length);
  return out;
}

/** acc[i] += sgn_i·scale_q/divisor for a block written by {@link compressPieces}; throws on a wrongly sized block. */
export function addDecodedPieces(block: Uint8Array, pieces: readonly number[], divisor: number, acc: Float32Array): void {
  const want = 4 * pieces.length + Math.ceil(acc.length / 8);
  if (block.length !== want) throw new RangeError(`sign-ef block has ${block.length} bytes, expected ${want} for ${acc.length} values in ${pieces.length} pieces`);
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const bits = block.subarray(4 * pieces.length);
  let at = 0;
  pieces.forEach((len, q) => {
    const w = view.getFloat32(4 * q, true) / divisor;
    for (let i = at; i < at + len; i++) acc[i] += signAt(bits, i) === 1 ? w : -w;
    at += len;
  });
}

/** Prefixes of the state names of {@link SignEfHook.save}. */
export const SIGN_EF_STATE = { worker: 'worker', server: 'server' } as const;
const STATE_NAME = /^(worker|server)\/(\d+)$/;
/** Checkpoint part key of the error memories. */
export const SIGN_EF_PART = 'sign-ef';

export class SignEfHook implements CheckpointPart {
  /** Checkpoint part key: each rank saves its own error memories. */
  readonly key = SIGN_EF_PART;
  readonly scope = PART_SCOPES.rank;
  /** Worker error memory, keyed by bucket index. */
  private readonly workerError = new Map<number, Float32Array>();
  /** Server error memory for the chunk this rank owns, keyed by bucket index. */
  private readonly serverError = new Map<number, Float32Array>();

  /** The L1 norm of the worker error after the last step (how much the compression owes). */
  lastWorkerErrorL1 = 0;

  readonly hook = async (state: CommState, bucket: GradBucket): Promise<Float32Array> => {
    const c = state.collective;
    if (!c.alltoall) throw new UnsupportedOperationError(c.constructor.name, 'alltoall (needed by sign-ef)');
    const n = c.worldSize;
    const d = bucket.buffer.length;
    const ends = segmentEnds(d, bucket.segments);
    const piecesOf = (k: number): number[] => {
      const [a, b] = chunkBounds(d, n, k);
      return pieceLengths(a, b, ends);
    };
    // Step 1: worker compression with error feedback.
    const e = this.memory(this.workerError, bucket.index, d);
    const p = new Float32Array(d);
    for (let i = 0; i < d; i++) p[i] = bucket.buffer[i]! + e[i]!;
    const blocks: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      const [a, b] = chunkBounds(d, n, k);
      blocks.push(compressPieces(p.subarray(a, b), piecesOf(k)));
    }
    e.set(p);
    let l1 = 0;
    for (let i = 0; i < d; i++) l1 += Math.abs(e[i]!);
    this.lastWorkerErrorL1 = l1;
    // Step 2: compressed reduce-scatter.
    const received = await c.alltoall(blocks, { timeoutMs: state.timeoutMs });
    // Step 3: the owner averages, adds its server error and re-compresses.
    const [a0, b0] = chunkBounds(d, n, c.rank);
    const own = piecesOf(c.rank);
    const m = new Float32Array(b0 - a0);
    for (const block of received) addDecodedPieces(block, own, n, m);
    const es = this.memory(this.serverError, bucket.index, m.length);
    for (let i = 0; i < m.length; i++) m[i] += es[i]!;
    const serverBlock = compressPieces(m, own);
    es.set(m);
    // Step 4: compressed all-gather; decode every chunk.
    const gathered = await c.allgather(serverBlock, { timeoutMs: state.timeoutMs });
    const out = new Float32Array(d);
    for (let k = 0; k < n; k++) {
      const [a, b] = chunkBounds(d, n, k);
      addDecodedPieces(gathered[k]!, piecesOf(k), 1, out.subarray(a, b));
    }
    return out;
  };

  /**
   * The error memories for a checkpoint, as `worker/<bucket>` and
   * `server/<bucket>` (copies), so a resumed run continues the same
   * error feedback instead of restarting it from zero.
   */
  save(): SavedPart {
    const tensors = new Map<string, Float32Array>();
    for (const [i, e] of this.workerError) tensors.set(`${SIGN_EF_STATE.worker}/${i}`, e.slice());
    for (const [i, e] of this.serverError) tensors.set(`${SIGN_EF_STATE.server}/${i}`, e.slice());
    return { tensors };
  }

  /** Why `saved` is not a {@link save} result (undefined: it is). */
  check(saved: SavedPart): string | undefined {
    const bad = [...saved.tensors.keys()].find((name) => STATE_NAME.exec(name) === null);
    return bad === undefined ? undefined : `sign-ef state ${bad} is not worker/<bucket> or server/<bucket>`;
  }

  /** Replaces the error memories with a {@link save} result; throws on a name it did not write. */
  load(saved: SavedPart): void {
    const reason = this.check(saved);
    if (reason !== undefined) throw new RangeError(reason);
    this.workerError.clear();
    this.serverError.clear();
    for (const [name, e] of saved.tensors) {
      const m = STATE_NAME.exec(name)!;
      (m[1] === SIGN_EF_STATE.worker ? this.workerError : this.serverError).set(Number(m[2]), e.slice());
    }
  }

  private memory(map: Map<number, Float32Array>, index: number, length: number): Float32Array {
    let m = map.get(index);
    if (!m || m.length !== length) {
      m = new Float32Array(length);
      map.set(index, m);
    }
    return m;
  }
}
