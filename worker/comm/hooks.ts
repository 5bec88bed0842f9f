/**
 * Communication hooks (the DDP comm-hook shape): a hook turns one rank's
 * gradient bucket into the MEAN gradient over the ring, using only the
 * {@link Collective} interface. Compression never sees a transport.
 */
import { BucketScratch } from './bucket-scratch.js';
import type { Collective, WireDtype } from './collective.js';

/** One fused gradient buffer. Buckets are not pre-divided by the world size. */
export interface GradBucket {
  /** Bucket number (0 when all gradients are fused into one); keys per-bucket state such as error memory. */
  readonly index: number;
  readonly buffer: Float32Array;
  /** Optimizer step, for warm-up and seeded randomness. */
  readonly step: number;
  /** Element type the all-reduce may use on the wire. @default 'f32' */
  readonly wire?: WireDtype;
  /**
   * Lengths of the tensors fused into `buffer`, in order (summing to its
   * length), for compressors that scale per tensor. @default one segment
   */
  readonly segments?: readonly number[];
}

/** What every hook gets: the collective and the per-call deadline. */
export interface CommState {
  readonly collective: Collective;
  /** Per-hop deadline of each collective call; the collective's default when unset. */
  readonly timeoutMs?: number;
}

/**
 * `(state, bucket) => mean gradient`; always returns a promise, even without
 * communication. The result may be a buffer the hook reuses (see
 * bucket-scratch.ts): it is valid until the same hook's next call for the same
 * bucket index, so a hook instance belongs to one rank.
 */
export type CommHook<S extends CommState = CommState> = (state: S, bucket: GradBucket) => Promise<Float32Array>;

/**
 * The plain baseline: all-reduce of the bucket divided by the world size
 * (divided before reducing, so the sum cannot overflow). Behaves as if no hook
 * were installed: the result is the mean. Each call of this factory gives a
 * hook with its own result buffers.
 */
export function createAllreduceHook(): CommHook {
  const scratch = new BucketScratch();
  return (state, bucket) => {
    const n = state.collective.worldSize;
    const scaled = scratch.take('mean', bucket.index, bucket.buffer.length);
    const g = bucket.buffer;
    for (let i = 0; i < scaled.length; i++) scaled[i] = g[i]! / n;
    // `scaled` is ours: reduce it in place instead of allocating a second buffer of the bucket's size.
    return state.collective.allreduce(scaled, { timeoutMs: state.timeoutMs, wire: bucket.wire, inPlace: true });
  };
}

/** A stateless compressor around a hook (horovod's `Compressor`). */
export interface Compressor<Ctx = unknown> {
  readonly name: string;
  /** The payload keeps the bucket's shape (so any hook can reduce it); `wire` says how it travels. */
  compress(x: Float32Array): { payload: Float32Array; ctx: Ctx; wire?: WireDtype };
  decompress(payload: Float32Array, ctx: Ctx): Float32Array;
}

/** Wraps `hook` so buckets are compressed before and decompressed after it; composes with any hook. */
export function withCompression<S extends CommState, Ctx>(hook: CommHook<S>, compressor: Compressor<Ctx>): CommHook<S> {
  return async (state, bucket) => {
    const { payload, ctx, wire } = compressor.compress(bucket.buffer);
    const reduced = await hook(state, { ...bucket, buffer: payload, wire: wire ?? bucket.wire });
    return compressor.decompress(reduced, ctx);
  };
}

/** Runs `warmupHook` (uncompressed by default) for the first `warmupSteps` steps, then `hook`. */
export function withWarmup<S extends CommState>(hook: CommHook<S>, warmupSteps: number, warmupHook: CommHook<S> = createAllreduceHook()): CommHook<S> {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new RangeError(`warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  return (state, bucket) => (bucket.step < warmupSteps ? warmupHook(state, bucket) : hook(state, bucket));
}
