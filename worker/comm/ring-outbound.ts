/**
 * Outbound flow control of the gRPC ring: what one rank streams to one
 * receiver in one operation.
 *
 * The receiver is the gRPC client (it calls `Pull`), so the sender may start
 * queueing chunks before the receiver's stream arrives. {@link Outbound}
 * encodes each chunk at once (the ring algorithm reuses the region it points
 * into), queues it, and writes it when the stream is attached and grpc-js has
 * room; `finish` resolves once everything was handed to HTTP/2.
 */
import * as grpc from '@grpc/grpc-js';
import { EncodePool, type PooledMessage } from './encode-pool.js';
import { encodeRingMessage, type RingMessage } from './ring-message.js';
import type { RingSendLink } from './ring-allreduce.js';
import { GRPC_MESSAGE_PREFIX_BYTES, type PullCall } from './transport.js';

/** Payloads from this size up are encoded into pooled buffers (see encode-pool.ts). */
export const POOL_MIN_PAYLOAD_BYTES = 64 * 1024;

/** What this rank runs in an operation, to compare with what the receiver asked for. */
export interface OutboundExpectation {
  readonly kind: number;
  readonly totalElements: number;
  readonly wire: number;
}

/** One outgoing stream: what this rank sends to one receiver in one operation. */
export class Outbound implements RingSendLink {
  call: PullCall | undefined;
  /** What this rank runs in the operation, to compare with what the receiver asked for. */
  expected: OutboundExpectation | undefined;
  /** Called when the receiver's request disagrees with {@link expected}. */
  onMismatch: ((details: string) => void) | undefined;
  private readonly queue: Array<Buffer | PooledMessage> = [];
  private waitingDrain = false;
  private finishing = false;
  private done = false;
  private finished: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private attached: (() => void) | undefined;

  constructor(
    private readonly onBytes: (n: number) => void,
    private readonly pool: EncodePool,
  ) {}

  /** True once the stream ended (normally or not). grpc-js also emits 'cancelled' after a normal end. */
  get isDone(): boolean {
    return this.done;
  }

  send(msg: RingMessage): void {
    // Small messages (barriers, compressed payloads, last parts) are not worth a pooled buffer. Both
    // align the payload so the receiver reduces it in place (see GRPC_MESSAGE_PREFIX_BYTES).
    const buf = msg.data.byteLength >= POOL_MIN_PAYLOAD_BYTES && this.pool.fits(msg)
      ? this.pool.encode(msg, GRPC_MESSAGE_PREFIX_BYTES)
      : encodeRingMessage(msg, GRPC_MESSAGE_PREFIX_BYTES);
    this.onBytes(buf.length);
    this.queue.push(buf);
    this.pump();
  }

  /** Compares the receiver's request with this rank's operation (both sides must agree on kind and size). */
  check(): void {
    const req = this.call?.request;
    const exp = this.expected;
    if (!req || !exp) return;
    if (req.kind !== exp.kind || req.totalElements !== exp.totalElements || req.wire !== exp.wire) {
      this.onMismatch?.(`receiver asked for kind ${req.kind} of ${req.totalElements} elements (wire ${req.wire}), this rank runs kind ${exp.kind} of ${exp.totalElements} elements (wire ${exp.wire})`);
    }
  }

  attach(call: PullCall): void {
    this.call = call;
    this.check();
    call.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
    this.attached?.();
    this.pump();
  }

  /** Resolves when every queued chunk was handed to HTTP/2 and the stream ended. */
  finish(timeoutMs: number, onTimeout: () => Error): Promise<void> {
    this.finishing = true;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
      // Re-arm the deadline whenever the receiver attaches or drains: it is a per-hop, not a per-op, deadline.
      this.attached = () => timer.refresh();
      this.finished = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pump();
    });
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.finished?.reject(err);
    if (this.call && !this.call.cancelled) {
      // Ends the stream with the reason, so the receiver's error names the root cause.
      this.call.emit('error', { code: grpc.status.ABORTED, details: err.message });
    }
  }

  private pump(): void {
    const call = this.call;
    if (!call || this.waitingDrain || this.done) return;
    while (this.queue.length > 0) {
      const ok = call.write(this.queue.shift()!);
      if (!ok) {
        // Flow control: grpc-js buffers 16 messages per stream; wait for 'drain' before writing more.
        this.waitingDrain = true;
        this.attached?.();
        return;
      }
    }
    if (this.finishing && this.finished) {
      this.done = true;
      call.end();
      this.finished.resolve();
    }
  }
}
