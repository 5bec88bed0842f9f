/**
 * A de-duplicating, rate-limited work queue in the style of client-go's
 * workqueue: a key is queued at most once, is never processed by two workers at
 * once (a key added while in flight is re-queued when it is done), and failed
 * keys come back after a per-key exponential backoff.
 */

/** Timer functions, injectable so tests control time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** First retry delay of a failing key. @default 100 */
  readonly baseDelayMs?: number;
  /** Retry delay cap. @default 60000 */
  readonly maxDelayMs?: number;
  readonly timers?: Timers;
  /** Called on every {@link WorkQueue.add} before de-duplication (the adds metric). */
  readonly onAdd?: (key: string) => void;
  /**
   * Called with how long a key waited in the queue (from when it became ready,
   * not counting backoff or `addAfter` delays, until a worker took it).
   */
  readonly onWait?: (ms: number) => void;
  /** Clock of {@link onWait}, in ms. @default performance.now */
  readonly now?: () => number;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The queue. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: re-queued on `done`. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timers: Timers;
  private readonly onAdd: ((key: string) => void) | undefined;
  private readonly onWait: ((ms: number) => void) | undefined;
  private readonly now: () => number;
  /** When each queued key became ready. */
  private readonly readyAt = new Map<string, number>();
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.timers = opts.timers ?? realTimers;
    this.onAdd = opts.onAdd;
    this.onWait = opts.onWait;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Queues `key` unless it is already queued. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.onAdd?.(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.processing.add(key);
      this.onWait?.(0);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    if (this.onWait !== undefined) this.readyAt.set(key, this.now());
  }

  /** Queues `key` after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number, nowMs = Date.now()): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = nowMs + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      this.timers.clearTimeout(pending.handle);
    }
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Re-queues a failed key after its backoff (base x 2^failures, capped). */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Number of failures recorded for `key`. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; undefined once shut down. Call {@link done} when finished with it. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      const at = this.readyAt.get(key);
      if (at !== undefined) {
        this.readyAt.delete(key);
        this.onWait?.(this.now() - at);
      }
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; re-queues it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Number of keys waiting (not in flight, not delayed). */
  get length(): number {
    return this.queue.length;
  }

  /** Stops handing out keys; pending `get`s resolve to undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
