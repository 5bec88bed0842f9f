/**
 * An in-process {@link Collective} for unit tests of compressors and hooks:
 * `createLoopbackGroup(n)` returns n ranks that rendezvous in memory. Sums are
 * taken in rank order once and shared, so every rank gets the same bits. Bytes
 * are accounted as the ring transports would send them (payload only).
 */
import type { AllreduceOptions, Collective, CollectiveCallOptions } from './collective.js';
import { decodeHalf, encodeHalf } from './half.js';
import { ringAllreduceBytesPerRank, mod } from './ring-allreduce.js';

interface Pending {
  readonly inputs: unknown[];
  arrived: number;
  readonly waiters: Array<() => void>;
  result?: unknown;
}

class LoopbackGroup {
  private readonly ops = new Map<string, Pending>();
  constructor(readonly size: number) {}

  /** Waits for all ranks' inputs of operation `key`, then returns the shared result of `combine`. */
  async rendezvous<T>(key: string, rank: number, input: unknown, combine: (inputs: unknown[]) => T): Promise<T> {
    let p = this.ops.get(key);
    if (!p) {
      p = { inputs: new Array<unknown>(this.size), arrived: 0, waiters: [] };
      this.ops.set(key, p);
    }
    p.inputs[rank] = input;
    p.arrived++;
    if (p.arrived === this.size) {
      p.result = combine(p.inputs);
      this.ops.delete(key);
      for (const w of p.waiters) w();
    } else {
      await new Promise<void>((resolve) => p.waiters.push(resolve));
    }
    return p.result as T;
  }
}

class LoopbackCollective implements Collective {
  private seq = 0;
  private sent = 0;
  constructor(
    readonly rank: number,
    readonly worldSize: number,
    private readonly group: LoopbackGroup,
  ) {}

  get bytesSent(): number {
    return this.sent;
  }

  async allreduce(buf: Float32Array, opts: AllreduceOptions = {}): Promise<Float32Array> {
    const f16 = opts.wire === 'f16';
    this.sent += ringAllreduceBytesPerRank(buf.length, this.worldSize, this.rank, f16 ? 2 : 4);
    const sum = await this.group.rendezvous(`${this.seq++}`, this.rank, buf, (inputs) => {
      const arrays = inputs as Float32Array[];
      const out = new Float32Array(arrays[0]!.length);
      for (const a of arrays) {
        if (a.length !== out.length) throw new RangeError(`loopback allreduce: buffer sizes differ (${a.length} vs ${out.length})`);
        const v = f16 ? decodeHalf(encodeHalf(a)) : a;
        for (let i = 0; i < out.length; i++) out[i] += v[i]!;
      }
      return f16 ? decodeHalf(encodeHalf(out)) : out;
    });
    if (opts.inPlace !== true) return Float32Array.from(sum);
    buf.set(sum);
    return buf;
  }

  async allgather(buf: Uint8Array, _opts?: CollectiveCallOptions): Promise<Uint8Array[]> {
    const all = await this.group.rendezvous(`${this.seq++}`, this.rank, Uint8Array.from(buf), (inputs) => inputs as Uint8Array[]);
    // A ring gather sends N-1 blocks: this rank's own and the N-2 it forwards.
    for (let s = 0; s < this.worldSize - 1; s++) this.sent += all[mod(this.rank - s, this.worldSize)]!.length;
    return all.map((b) => Uint8Array.from(b));
  }

  async broadcast(buf: Uint8Array, root: number, opts?: CollectiveCallOptions): Promise<Uint8Array> {
    const all = await this.allgather(this.rank === root ? buf : new Uint8Array(0), opts);
    return all[root]!;
  }

  async barrier(opts?: CollectiveCallOptions): Promise<void> {
    await this.allgather(new Uint8Array(0), opts);
  }

  async alltoall(blocks: readonly Uint8Array[], _opts?: CollectiveCallOptions): Promise<Uint8Array[]> {
    if (blocks.length !== this.worldSize) throw new RangeError(`alltoall needs ${this.worldSize} blocks, got ${blocks.length}`);
    blocks.forEach((b, j) => (this.sent += j === this.rank ? 0 : b.length));
    const all = await this.group.rendezvous(`${this.seq++}`, this.rank, blocks.map((b) => Uint8Array.from(b)), (inputs) => inputs as Uint8Array[][]);
    return all.map((fromRank) => Uint8Array.from(fromRank[this.rank]!));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `n` in-process ranks that exchange buffers in memory. */
export function createLoopbackGroup(n: number): Collective[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`loopback group size must be a positive integer, got ${n}`);
  const group = new LoopbackGroup(n);
  return Array.from({ length: n }, (_, r) => new LoopbackCollective(r, n, group));
}
