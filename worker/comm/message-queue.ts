/**
 * A FIFO of received ring messages with a per-message deadline. A transport
 * pushes what arrives; the ring algorithm awaits `next()`. A failure (stream
 * error, abort) rejects the pending and every later `next()`.
 */
import type { RingMessage } from './ring-message.js';

export class MessageQueue {
  private readonly items: RingMessage[] = [];
  private head = 0;
  private waiter: { resolve: (m: RingMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private failure: Error | undefined;
  /** Serve messages that arrived before the failure first (a peer that closed cleanly after sending). */
  private drainFirst = false;
  /** Called when the queue drops below the low-water mark, so a paused source can resume. */
  onDrained: (() => void) | undefined;

  get length(): number {
    return this.items.length - this.head;
  }

  push(msg: RingMessage): void {
    if (this.failure) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(msg);
      return;
    }
    this.items.push(msg);
  }

  /**
   * Rejects the waiting and all future `next()` calls with `err` (first failure
   * wins). With `drainFirst`, messages already queued are still delivered.
   */
  fail(err: Error, drainFirst = false): void {
    if (this.failure) return;
    this.failure = err;
    this.drainFirst = drainFirst;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** The next message; `onTimeout` builds the error when none arrives within `timeoutMs`. */
  next(timeoutMs: number, onTimeout: () => Error): Promise<RingMessage> {
    if (this.failure && !(this.drainFirst && this.length > 0)) return Promise.reject(this.failure);
    if (this.head < this.items.length) {
      const m = this.items[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      if (this.length === 0) this.onDrained?.();
      return Promise.resolve(m);
    }
    if (this.waiter) return Promise.reject(new Error('message queue already has a reader'));
    this.onDrained?.();
    return new Promise<RingMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const err = onTimeout();
        this.fail(err);
        reject(err);
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }
}
