/**
 * `sign-ef`: scaled sign with error feedback as a compressed ring (the 1-bit
 * Adam `compressed_allreduce` shape, allreduce-compression.md §4 shape 4),
 * with EF-SignSGD's scale ‖p‖₁/d.
 *
 * For ring chunk c (owned by rank c; chunk bounds as in the ring all-reduce):
 * 1. Worker: p = g + e_worker; per chunk, scale_c = ‖p_c‖₁/|c|,
 *    e_worker_c = p_c − scale_c·sgn(p_c) (sgn(0) = +1).
 * 2. Compressed reduce-scatter: all-to-all of [scale_c, packed sgn(p_c)], so
 *    the owner of c receives every rank's compressed chunk c.
 * 3. Owner ("server"): m = Σᵢ (scaleᵢ/N)·sgnᵢ + e_server; scale_s = ‖m‖₁/|c|;
 *    e_server = m − scale_s·sgn(m).
 * 4. Compressed all-gather of [scale_s, packed sgn(m)]; every rank decodes
 *    every chunk as scale_s·sgn(m), identical bits on all ranks.
 * Wire: about 2(N−1)/N·d/8 bytes per rank, 1/32 of an fp32 ring.
 *
 * State (per bucket index): the worker error (d floats) and the server error
 * for the owned chunk (d/N floats). Both start at zero and stay zero during
 * uncompressed warm-up.
 */
import { UnsupportedOperationError } from '../ring-errors.js';
import { chunkBounds } from '../ring-allreduce.js';
import type { CommState, GradBucket } from '../hooks.js';
import { decodeScaledSigns, encodeScaledSigns, signAt } from './bit-pack.js';

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

/** Prefixes of the state names of {@link SignEfHook.saveState}. */
export const SIGN_EF_STATE = { worker: 'worker', server: 'server' } as const;

export class SignEfHook {
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
    // Step 1: worker compression with error feedback.
    const e = this.memory(this.workerError, bucket.index, d);
    const p = new Float32Array(d);
    for (let i = 0; i < d; i++) p[i] = bucket.buffer[i]! + e[i]!;
    const blocks: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      const [a, b] = chunkBounds(d, n, k);
      const chunk = p.subarray(a, b);
      const scale = l1Scale(chunk);
      blocks.push(encodeScaledSigns(scale, chunk));
      subtractScaledSign(chunk, scale);
    }
    e.set(p);
    let l1 = 0;
    for (let i = 0; i < d; i++) l1 += Math.abs(e[i]!);
    this.lastWorkerErrorL1 = l1;
    // Step 2: compressed reduce-scatter.
    const received = await c.alltoall(blocks, { timeoutMs: state.timeoutMs });
    // Step 3: the owner averages, adds its server error and re-compresses.
    const [a0, b0] = chunkBounds(d, n, c.rank);
    const len = b0 - a0;
    const m = new Float32Array(len);
    for (const block of received) {
      const { scale, bits } = decodeScaledSigns(block, len);
      const w = scale / n;
      for (let i = 0; i < len; i++) m[i] += signAt(bits, i) === 1 ? w : -w;
    }
    const es = this.memory(this.serverError, bucket.index, len);
    for (let i = 0; i < len; i++) m[i] += es[i]!;
    const serverScale = l1Scale(m);
    const serverBlock = encodeScaledSigns(serverScale, m);
    subtractScaledSign(m, serverScale);
    es.set(m);
    // Step 4: compressed all-gather; decode every chunk.
    const gathered = await c.allgather(serverBlock, { timeoutMs: state.timeoutMs });
    const out = new Float32Array(d);
    for (let k = 0; k < n; k++) {
      const [a, b] = chunkBounds(d, n, k);
      const { scale, bits } = decodeScaledSigns(gathered[k]!, b - a);
      for (let i = 0; i < b - a; i++) out[a + i] = signAt(bits, i) === 1 ? scale : -scale;
    }
    return out;
  };

  /**
   * The error memories for a checkpoint, as `worker/<bucket>` and
   * `server/<bucket>` (copies), so a resumed run continues the same
   * error feedback instead of restarting it from zero.
   */
  saveState(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [i, e] of this.workerError) out.set(`${SIGN_EF_STATE.worker}/${i}`, e.slice());
    for (const [i, e] of this.serverError) out.set(`${SIGN_EF_STATE.server}/${i}`, e.slice());
    return out;
  }

  /** Replaces the error memories with a {@link saveState} result; throws on a name it did not write. */
  loadState(state: ReadonlyMap<string, Float32Array>): void {
    this.workerError.clear();
    this.serverError.clear();
    for (const [name, e] of state) {
      const m = /^(worker|server)\/(\d+)$/.exec(name);
      if (m === null) throw new RangeError(`sign-ef state ${name} is not worker/<bucket> or server/<bucket>`);
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
