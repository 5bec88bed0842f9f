/**
 * Operation sequencing of the gRPC ring.
 *
 * Every rank calls collectives in the same order, and each operation gets the
 * next sequence number (`seq`) on every rank; chunks, Pull requests and Abort
 * messages carry it. {@link OpSequencer} runs operations one after another
 * (callers need not await each other), hands out the numbers, decides which
 * Pull requests are in order, and keeps the outgoing stream of each
 * (operation, receiver) pair, because a receiver may ask for it before this
 * rank has started the operation.
 */
import type { Outbound } from './ring-outbound.js';

export class OpSequencer {
  private nextSeq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly slots = new Map<string, Outbound>();

  /** @param createOutbound builds the stream of a new (operation, receiver) slot. */
  constructor(private readonly createOutbound: () => Outbound) {}

  /** Runs `op` once every operation enqueued before it has settled (whatever the outcome). */
  enqueue<T>(op: () => Promise<T>): Promise<T> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Takes the sequence number of the operation starting now. */
  begin(): number {
    return this.nextSeq++;
  }

  /** Sequence number of the operation in progress, or of the last one (0 before any). */
  get current(): number {
    return Math.max(0, this.nextSeq - 1);
  }

  /**
   * Why a Pull for operation `seq` from `receiver` is refused, or undefined.
   * Operations are sequential, so a receiver is at most one operation ahead of
   * this rank and never behind it.
   */
  refusePull(seq: number, receiver: number, rank: number): string | undefined {
    if (seq + 1 >= this.nextSeq && seq <= this.nextSeq + 1) return undefined;
    return `rank ${rank} is at operation ${this.nextSeq - 1}; refused a pull for operation ${seq} from rank ${receiver}`;
  }

  /** The outgoing stream of operation `seq` to `receiver`, created on first use. */
  slot(seq: number, receiver: number): Outbound {
    const key = `${seq}:${receiver}`;
    let o = this.slots.get(key);
    if (!o) {
      o = this.createOutbound();
      this.slots.set(key, o);
    }
    return o;
  }

  /** Forgets the streams of operation `seq` to `receivers` (the operation is over). */
  release(seq: number, receivers: readonly number[]): void {
    for (const r of receivers) this.slots.delete(`${seq}:${r}`);
  }

  /** Every outgoing stream still held (to fail them all at once). */
  outbound(): IterableIterator<Outbound> {
    return this.slots.values();
  }
}
