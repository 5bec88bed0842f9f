/**
 * Reusable encode buffers for the gRPC ring's outgoing chunks.
 *
 * Why: the ring algorithm requires `send` to copy the payload synchronously
 * (the region it points into changes later), and grpc-js then copies the
 * encoded message once more into its own length-prefixed frame. The first
 * copy's buffer lives only until grpc-js has made the second one, so it can be
 * reused instead of allocating (and page-faulting, and garbage-collecting) a
 * fresh 1 MiB buffer per message: profiled at N = 3, 64 MiB, the gRPC ranks
 * allocated ~85 MiB of such short-lived buffers per all-reduce.
 *
 * Lifetime: {@link EncodePool.encode} hands out a {@link PooledMessage};
 * whoever turns it into wire bytes (the Pull serializer in transport.ts) calls
 * {@link PooledMessage.bytes} and then {@link PooledMessage.release} once the
 * bytes were copied. A message that is never released (a cancelled stream) is
 * simply garbage-collected; the pool allocates a replacement.
 */
import { encodeRingMessageInto, maxEncodedBytes, type RingMessage } from './ring-message.js';

/** An encoded chunk in a pooled buffer. */
export class PooledMessage {
  private released = false;

  constructor(
    private readonly buffer: Buffer,
    /** Encoded length. */
    readonly length: number,
    private readonly pool: EncodePool,
  ) {}

  /** The encoded bytes (a view into the pooled buffer: valid until {@link release}). */
  get bytes(): Buffer {
    if (this.released) throw new Error('pooled ring message used after release');
    return this.buffer.subarray(0, this.length);
  }

  /** Returns the buffer to the pool; later calls are no-ops. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.give(this.buffer);
  }
}

/** A free list of equally sized encode buffers. */
export class EncodePool {
  private readonly free: Buffer[] = [];

  /**
   * @param bufferBytes capacity of each buffer: the largest message plus its header.
   * @param maxFree buffers kept when idle (retained memory is `maxFree * bufferBytes`).
   */
  constructor(
    readonly bufferBytes: number,
    private readonly maxFree: number,
  ) {}

  /** Buffers currently idle in the pool. */
  get idle(): number {
    return this.free.length;
  }

  /** Whether `msg` fits a pooled buffer. */
  fits(msg: RingMessage): boolean {
    return maxEncodedBytes(msg) <= this.bufferBytes;
  }

  /** Encodes `msg` (copying its payload) into a pooled buffer; `alignBase` as in `encodeRingMessageInto`. */
  encode(msg: RingMessage, alignBase?: number): PooledMessage {
    if (!this.fits(msg)) throw new RangeError(`ring message of ${msg.data.byteLength} payload bytes does not fit the ${this.bufferBytes}-byte encode pool`);
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
    return new PooledMessage(buffer, encodeRingMessageInto(msg, buffer, alignBase), this);
  }

  /** Takes a buffer back (called by {@link PooledMessage.release}). */
  give(buffer: Buffer): void {
    if (buffer.byteLength === this.bufferBytes && this.free.length < this.maxFree) this.free.push(buffer);
  }

  /** Drops every idle buffer. */
  clear(): void {
    this.free.length = 0;
  }
}
