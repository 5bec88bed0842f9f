/**
 * The collective transport seam. Training and compression only ever see this
 * interface; gRPC (or raw TCP, or an in-process loopback) lives behind it.
 */

/** Options of one collective call. */
export interface CollectiveCallOptions {
  /** Deadline for the whole call; every hop inside it also has a deadline. */
  readonly timeoutMs?: number;
}

export interface AllreduceOptions extends CollectiveCallOptions {
  /** Only `sum` is required; a transport that lacks another op throws `transport X does not support Y`. */
  readonly op?: 'sum';
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
  /** Releases sockets and servers; idempotent. */
  close(): Promise<void>;
}

/**
 * Turns one rank's flat gradient (all layers fused into one buffer) into the
 * mean gradient over the ring. `step` lets stateful strategies (compression
 * warm-up, error feedback) know where they are. Always returns a promise.
 */
export type GradientReducer = (flatGrad: Float32Array, step: number) => Promise<Float32Array>;

/** The single-process reducer: the mean of one gradient is itself. */
export const identityReducer: GradientReducer = (flatGrad) => Promise.resolve(flatGrad);
