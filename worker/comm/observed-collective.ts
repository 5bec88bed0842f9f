/**
 * Measurements of the collective for the worker's metrics: latency of each
 * collective call, bytes on the wire per direction, and codec time.
 *
 * Codec time is measured from outside the codecs, so every compression gets
 * it without code of its own: a reducer call's wall time that is not spent
 * inside a collective call is compression work. Time before the first
 * collective call and between calls counts as `encode` (compressing, and
 * sign-ef's server-side re-compression between its two exchanges); time after
 * the last call counts as `decode`. Work inside the ring itself (the f16
 * wire's per-hop conversion) is part of the call's latency.
 */
import type { AllreduceOptions, Collective, CollectiveCallOptions, GradientReducer } from './collective.js';

/** The collective calls that are measured. */
export const COLLECTIVE_OPS = ['allreduce', 'allgather', 'broadcast', 'barrier', 'alltoall'] as const;
export type CollectiveOp = (typeof COLLECTIVE_OPS)[number];

/** Where the measurements go (the worker's Prometheus metrics; a summary for metrics.json). */
export interface CollectiveObserver {
  /** One collective call finished (or failed) after `seconds`. */
  observeCall(op: CollectiveOp, seconds: number, ok: boolean): void;
  /** One reducer call spent `seconds` compressing (`encode`) or decompressing (`decode`). */
  observeCodec(phase: 'encode' | 'decode', seconds: number): void;
  /** Bytes this rank put on (`sent`) or took off (`received`) the wire since the last report. */
  addWireBytes(direction: 'sent' | 'received', bytes: number): void;
}

const nowSeconds = (): number => Number(process.hrtime.bigint()) / 1e9;

/** Totals for metrics.json. */
export interface CollectiveSummary {
  /** All-reduce calls and their latency. */
  readonly allreduceCalls: number;
  readonly allreduceSecondsTotal: number;
  readonly allreduceSecondsMax: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly encodeSecondsTotal: number;
  readonly decodeSecondsTotal: number;
}

/**
 * A {@link Collective} that reports to `observer`, and a reducer wrapper that
 * derives codec time from it. Wire bytes are read from the transport's
 * counters after each call.
 */
export class ObservedCollective implements Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Calls in flight and the time of the first start / last end, for the codec split. */
  private active = 0;
  private firstStart: number | undefined;
  private lastEnd: number | undefined;
  private inCallSeconds = 0;
  private busySince = 0;
  private reportedSent = 0;
  private reportedReceived = 0;
  private totals = { allreduceCalls: 0, allreduceSecondsTotal: 0, allreduceSecondsMax: 0, encodeSecondsTotal: 0, decodeSecondsTotal: 0 };

  constructor(
    private readonly inner: Collective,
    private readonly observer: CollectiveObserver,
  ) {
    this.rank = inner.rank;
    this.worldSize = inner.worldSize;
  }

  get bytesSent(): number | undefined {
    return this.inner.bytesSent;
  }

  get bytesReceived(): number | undefined {
    return this.inner.bytesReceived;
  }

  allreduce(buf: Float32Array, opts?: AllreduceOptions): Promise<Float32Array> {
    return this.measure('allreduce', () => this.inner.allreduce(buf, opts));
  }

  allgather(buf: Uint8Array, opts?: CollectiveCallOptions): Promise<Uint8Array[]> {
    return this.measure('allgather', () => this.inner.allgather(buf, opts));
  }

  broadcast(buf: Uint8Array, root: number, opts?: CollectiveCallOptions): Promise<Uint8Array> {
    return this.measure('broadcast', () => this.inner.broadcast(buf, root, opts));
  }

  barrier(opts?: CollectiveCallOptions): Promise<void> {
    return this.measure('barrier', () => this.inner.barrier(opts));
  }

  get alltoall(): Collective['alltoall'] {
    const inner = this.inner.alltoall?.bind(this.inner);
    return inner && ((blocks, opts) => this.measure('alltoall', () => inner(blocks, opts)));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Totals so far, for metrics.json. */
  summary(): CollectiveSummary {
    return { ...this.totals, bytesSent: this.inner.bytesSent ?? 0, bytesReceived: this.inner.bytesReceived ?? 0 };
  }

  /**
   * Wraps a reducer built on this collective: each call's time outside
   * collective calls is reported as codec time (see the module comment).
   */
  timeCodec(reducer: GradientReducer): GradientReducer {
    return async (flat, step, segments) => {
      this.firstStart = undefined;
      this.lastEnd = undefined;
      this.inCallSeconds = 0;
      const t0 = nowSeconds();
      const mean = await reducer(flat, step, segments);
      const t1 = nowSeconds();
      if (this.firstStart === undefined || this.lastEnd === undefined) {
        // No communication (a one-rank ring): all of it is local work.
        this.reportCodec('encode', t1 - t0);
      } else {
        const decode = t1 - this.lastEnd;
        this.reportCodec('decode', decode);
        this.reportCodec('encode', Math.max(0, t1 - t0 - this.inCallSeconds - decode));
      }
      return mean;
    };
  }

  private reportCodec(phase: 'encode' | 'decode', seconds: number): void {
    this.observer.observeCodec(phase, seconds);
    if (phase === 'encode') this.totals.encodeSecondsTotal += seconds;
    else this.totals.decodeSecondsTotal += seconds;
  }

  private async measure<T>(op: CollectiveOp, call: () => Promise<T>): Promise<T> {
    const t0 = nowSeconds();
    this.firstStart ??= t0;
    // Overlapping calls count once toward in-call time: it runs from the first start to the last end.
    if (this.active++ === 0) this.busySince = t0;
    let ok = false;
    try {
      const result = await call();
      ok = true;
      return result;
    } finally {
      const t1 = nowSeconds();
      if (--this.active === 0) this.inCallSeconds += t1 - this.busySince;
      this.lastEnd = t1;
      const seconds = t1 - t0;
      this.observer.observeCall(op, seconds, ok);
      if (op === 'allreduce') {
        this.totals.allreduceCalls++;
        this.totals.allreduceSecondsTotal += seconds;
        this.totals.allreduceSecondsMax = Math.max(this.totals.allreduceSecondsMax, seconds);
      }
      this.reportBytes();
    }
  }

  private reportBytes(): void {
    const sent = this.inner.bytesSent ?? 0;
    const received = this.inner.bytesReceived ?? 0;
    if (sent > this.reportedSent) this.observer.addWireBytes('sent', sent - this.reportedSent);
    if (received > this.reportedReceived) this.observer.addWireBytes('received', received - this.reportedReceived);
    this.reportedSent = sent;
    this.reportedReceived = received;
  }
}
