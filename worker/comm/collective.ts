/**
 * The collective transport seam. Training and compression only ever see this
 * interface; gRPC (or raw TCP, or an in-process loopback) lives behind it.
 */

/** Options of one collective call. */
export interface CollectiveCallOptions {
  /** Deadline for the whole call; every hop inside it also has a deadline. */
  readonly timeoutMs?: number;
}

/** Element type of all-reduce traffic on the wire; the sum is always accumulated in float32. */
export type WireDtype = 'f32' | 'f16';

export interface AllreduceOptions extends CollectiveCallOptions {
  /** Only `sum` is required; a transport that lacks another op throws `transport X does not support Y`. */
  readonly op?: 'sum';
  /**
   * `f16` sends partial sums as binary16 (half the bytes; the `fp16` compressor).
   * A transport without it throws `transport X does not support allreduce wire f16`.
   * @default 'f32'
   */
  readonly wire?: WireDtype;
  /**
   * Write the sum into `buf` and return it, as `torch.distributed.all_reduce`
   * does, instead of allocating the result: for callers that own `buf` and no
   * longer need its values (a 64 MiB gradient then costs no fresh 64 MiB).
   * When the call fails, `buf` holds partial sums.
   * @default false
   */
  readonly inPlace?: boolean;
}

/** A group of `worldSize` ranks that exchange buffers. */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Element-wise sum over all ranks; every rank receives the same bits. Not divided by the world size. */
  allreduce(buf: Float32Array, opts?: AllreduceOptions): Promise<Float32Array>;
  /** Every rank's buffer, indexed by rank (buffers may differ in length). */
  allgather(buf: Uint8Array, opts?: CollectiveCallOptions): Promise<Uint8Array[]>;
  /** `root`'s buffer on every rank. */
  broadcast(buf: Uint8Array, root: number, opts?: CollectiveCallOptions): Promise<Uint8Array>;
  barrier(opts?: CollectiveCallOptions): Promise<void>;
  /**
   * `blocks[j]` goes to rank j; returns what each rank sent to this one, indexed
   * by sender. Optional: compressed reduce-scatter (sign-ef) needs it; a
   * transport without it leaves it undefined.
   */
  alltoall?(blocks: readonly Uint8Array[], opts?: CollectiveCallOptions): Promise<Uint8Array[]>;
  /** Bytes this rank has put on the wire so far (for bytes-per-step statistics), when the transport counts them. */
  readonly bytesSent?: number;
  /** Bytes this rank has taken off the wire so far, when the transport counts them. */
  readonly bytesReceived?: number;
  /** Releases sockets and servers; idempotent. */
  close(): Promise<void>;
}

/**
 * Turns one rank's flat gradient (all layers fused into one buffer) into the
 * mean gradient over the ring. `step` lets stateful strategies (compression
 * warm-up, error feedback) know where they are; `segments` (the fused
 * tensors' lengths, the same every step) lets compressors scale per tensor.
 * Always returns a promise. The mean may live in a buffer the reducer reuses:
 * it is valid until the reducer's next call (the step applies it at once).
 */
export type GradientReducer = (flatGrad: Float32Array, step: number, segments?: readonly number[]) => Promise<Float32Array>;

/** The single-process reducer: the mean of one gradient is itself. */
export const identityReducer: GradientReducer = (flatGrad) => Promise.resolve(flatGrad);
