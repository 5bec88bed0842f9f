/**
 * The {@link Collective} over gRPC: every rank runs a ring server (see
 * transport.ts) and, for each operation, pulls its left neighbour's chunks
 * over one server-streaming `Pull` call (the receiver is the client, so its
 * HTTP/2 window applies). The algorithms live in ring-allreduce.ts.
 *
 * Failure model (torchrun style): the first failure of any operation (a hop
 * deadline, a broken stream, a malformed message, an `Abort` from a peer)
 * poisons this collective. It cancels its streams, fails its outgoing streams
 * with the reason, and sends `Abort` to every peer, so each rank fails its step
 * within the deadline with a {@link RingError} that names the peer at fault.
 * Recovery is a gang restart from a checkpoint, not a retry on the same ring.
 */
import * as grpc from '@grpc/grpc-js';
import type { Collective, AllreduceOptions, CollectiveCallOptions } from './collective.js';
import type { RingClient } from '../gen/dat/ring/v1/Ring.js';
import type { PullRequest__Output } from '../gen/dat/ring/v1/PullRequest.js';
import { silentLogger, type Logger } from '../util/log.js';
import { getErrorMessage } from '../util/errors.js';
import { MessageQueue } from './message-queue.js';
import { EncodePool, type PooledMessage } from './encode-pool.js';
import { RING_FAILURES, RingError, UnsupportedOperationError } from './ring-errors.js';
import { OP_KINDS, WIRE_FORMATS, encodeRingMessage, encodedBytesBound, type RingMessage, type OpKindValue, type WireFormatValue } from './ring-message.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES, allToAll, mod, partCount, ringAllreduce, ringGather, type RingContext, type RingSendLink,
} from './ring-allreduce.js';
import { GRPC_MESSAGE_PREFIX_BYTES, createRingClient, type PullCall, type RingServerHandlers } from './transport.js';
import type { RingListener } from './ring-listener.js';

/** Default per-hop deadline. */
export const DEFAULT_HOP_TIMEOUT_MS = 30_000;
/** Default time `connect()` keeps dialing peers that are still starting. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
/** Pause a Pull stream when this many messages wait to be reduced (reads are pull-based: the window then fills). */
const RECEIVE_HIGH_WATER = 32;
/** Deadline of a best-effort Abort RPC to a peer (a hung peer must not delay our own failure). */
const ABORT_RPC_TIMEOUT_MS = 1_000;
/** Deadline of the Health probes that find a hung rank after a hop timeout. */
const HEALTH_PROBE_TIMEOUT_MS = 500;
/** Delay between Join attempts while a peer is still starting. */
const JOIN_RETRY_MS = 100;
/** Payloads from this size up are encoded into pooled buffers (see encode-pool.ts). */
const POOL_MIN_PAYLOAD_BYTES = 64 * 1024;
/**
 * Idle encode buffers kept per rank. Step 0 of an all-reduce queues a whole
 * ring chunk at once (22 messages for 64 MiB at N = 3), so 24 covers the usual
 * peak; at the default 1 MiB messages this retains at most ~24 MiB.
 */
const POOL_MAX_IDLE = 24;

/** Options of {@link GrpcRingCollective}. */
export interface GrpcRingOptions {
  readonly rank: number;
  readonly worldSize: number;
  /** Ring identity (job name and incarnation); peers with another session are refused. @default 'dat' */
  readonly session?: string;
  /** Deadline for each message of each hop, unless a call passes `timeoutMs`. @default 30000 */
  readonly timeoutMs?: number;
  /** Largest wire message. @default 1048576 */
  readonly maxMessageBytes?: number;
  /** @default 60000 */
  readonly connectTimeoutMs?: number;
  /** Client credentials for dialing `peerRank` (per-peer mTLS identity checks in a cluster). @default insecure */
  readonly channelCredentials?: (peerRank: number) => grpc.ChannelCredentials;
  readonly log?: Logger;
}

/** One outgoing stream: what this rank sends to `receiver` in operation `seq`. */
class Outbound implements RingSendLink {
  call: PullCall | undefined;
  /** What this rank runs in the operation, to compare with what the receiver asked for. */
  expected: { kind: number; totalElements: number; wire: number } | undefined;
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

/** One incoming stream: what `sender` sends this rank in operation `seq`. */
interface Inbound {
  readonly queue: MessageQueue;
  readonly call: grpc.ClientReadableStream<unknown>;
  done: boolean;
}

export class GrpcRingCollective implements Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Pass to `createRingServer`. */
  readonly handlers: RingServerHandlers;
  private readonly session: string;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly channelCredentials: ((peerRank: number) => grpc.ChannelCredentials) | undefined;
  private readonly log: Logger;
  private peers: readonly string[] = [];
  private readonly clients = new Map<number, RingClient>();
  private readonly outbound = new Map<string, Outbound>();
  private readonly inbound = new Set<Inbound>();
  private nextSeq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: RingError | undefined;
  private closed = false;
  private listener: RingListener | undefined;
  private sent = 0;
  private readonly pool: EncodePool;

  constructor(opts: GrpcRingOptions) {
    if (!Number.isInteger(opts.worldSize) || opts.worldSize < 1) throw new RangeError(`worldSize must be a positive integer, got ${opts.worldSize}`);
    if (!Number.isInteger(opts.rank) || opts.rank < 0 || opts.rank >= opts.worldSize) throw new RangeError(`rank must be in [0, ${opts.worldSize}), got ${opts.rank}`);
    const maxMsg = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (maxMsg < 1024 || maxMsg > 4 * 1024 * 1024) throw new RangeError(`maxMessageBytes must be in [1 KiB, 4 MiB] (the channels accept 8 MiB), got ${maxMsg}`);
    this.rank = opts.rank;
    this.worldSize = opts.worldSize;
    this.session = opts.session ?? 'dat';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_HOP_TIMEOUT_MS;
    this.maxMessageBytes = maxMsg;
    this.pool = new EncodePool(encodedBytesBound(maxMsg), POOL_MAX_IDLE);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.channelCredentials = opts.channelCredentials;
    this.log = opts.log ?? silentLogger;
    this.handlers = {
      Pull: (call) => this.onPull(call),
      Join: (call, cb) => {
        const req = call.request;
        if (req.worldSize !== this.worldSize || req.session !== this.session) {
          cb({ code: grpc.status.FAILED_PRECONDITION, details: `rank ${this.rank} is in ring ${this.session} of ${this.worldSize}, caller rank ${req.rank} expects ${req.session} of ${req.worldSize}` });
          return;
        }
        cb(null, { rank: this.rank, worldSize: this.worldSize, session: this.session });
      },
      Health: (_call, cb) => cb(null, { rank: this.rank, seq: Math.max(0, this.nextSeq - 1), state: this.failure ? 'aborted' : 'ok' }),
      Abort: (call, cb) => {
        cb(null, {});
        const req = call.request;
        this.fail(new RingError(`ring aborted by rank ${req.originRank}: ${req.reason}`, { failure: RING_FAILURES.aborted, peerRank: req.originRank }), false);
      },
    };
  }

  /** Total bytes this rank has written to the wire (encoded chunks). */
  get bytesSent(): number {
    return this.sent;
  }

  /** Hands the (already listening) ring port to this collective so `close()` shuts it down. */
  ownListener(listener: RingListener): void {
    this.listener = listener;
  }

  /**
   * Learns the peers (`host:port` per rank, in rank order), waits until the
   * left neighbour answers `Join` (peers start at different times), then runs a
   * barrier so every rank is up before the first step.
   */
  async connect(peers: readonly string[]): Promise<void> {
    if (peers.length !== this.worldSize) throw new RangeError(`expected ${this.worldSize} peer addresses, got ${peers.length}`);
    this.peers = peers;
    if (this.worldSize === 1) return;
    const left = mod(this.rank - 1, this.worldSize);
    const until = Date.now() + this.connectTimeoutMs;
    for (;;) {
      try {
        await this.join(left, Math.min(2_000, Math.max(1, until - Date.now())));
        break;
      } catch (err) {
        const code = (err as Partial<grpc.ServiceError>).code;
        if (code === grpc.status.FAILED_PRECONDITION || Date.now() >= until) {
          throw new RingError(`rank ${this.rank} could not join ${this.describePeer(left)}: ${getErrorMessage(err)}`, { failure: code === grpc.status.FAILED_PRECONDITION ? RING_FAILURES.mismatch : RING_FAILURES.disconnected, peerRank: left, cause: err });
        }
        await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
      }
    }
    await this.barrier({ timeoutMs: Math.max(1, until - Date.now()) });
    this.log.info('Joined ring', { rank: this.rank, worldSize: this.worldSize, left: this.peers[left] });
  }

  allreduce(buf: Float32Array, opts: AllreduceOptions = {}): Promise<Float32Array> {
    if (opts.op !== undefined && opts.op !== 'sum') return Promise.reject(new UnsupportedOperationError('grpc-ring', `allreduce op ${String(opts.op)}`));
    if (this.worldSize === 1) return this.single(() => Float32Array.from(buf));
    const wire: WireFormatValue = opts.wire === 'f16' ? WIRE_FORMATS.f16 : WIRE_FORMATS.f32;
    const bpe = wire === WIRE_FORMATS.f16 ? 2 : 4;
    return this.run(OP_KINDS.allreduce, buf.length, wire, opts.timeoutMs, partCount(buf.length * bpe, this.maxMessageBytes), (ctx, right, left) =>
      ringAllreduce(buf, ctx, right(mod(this.rank + 1, this.worldSize)), left(mod(this.rank - 1, this.worldSize)), wire),
    );
  }

  allgather(buf: Uint8Array, opts: CollectiveCallOptions = {}): Promise<Uint8Array[]> {
    if (this.worldSize === 1) return this.single(() => [Uint8Array.from(buf)]);
    return this.run(OP_KINDS.gather, 0, WIRE_FORMATS.f32, opts.timeoutMs, partCount(buf.length, this.maxMessageBytes) * this.worldSize, (ctx, right, left) =>
      ringGather(buf, ctx, right(mod(this.rank + 1, this.worldSize)), left(mod(this.rank - 1, this.worldSize))),
    );
  }

  async broadcast(buf: Uint8Array, root: number, opts: CollectiveCallOptions = {}): Promise<Uint8Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) throw new RangeError(`broadcast root must be in [0, ${this.worldSize}), got ${root}`);
    // A gather where only the root contributes bytes: the root's block travels the ring once, pipelined.
    const all = await this.allgather(this.rank === root ? buf : new Uint8Array(0), opts);
    return all[root]!;
  }

  async barrier(opts: CollectiveCallOptions = {}): Promise<void> {
    await this.allgather(new Uint8Array(0), opts);
  }

  /** All-to-all over direct streams to every peer: `blocks[j]` goes to rank j. */
  alltoall(blocks: readonly Uint8Array[], opts: CollectiveCallOptions = {}): Promise<Uint8Array[]> {
    if (this.worldSize === 1) return this.single(() => [Uint8Array.from(blocks[0] ?? new Uint8Array(0))]);
    const most = blocks.reduce((m, b) => Math.max(m, b.length), 0);
    return this.run(OP_KINDS.allToAll, 0, WIRE_FORMATS.f32, opts.timeoutMs, partCount(most, this.maxMessageBytes) * this.worldSize, (ctx, right, left) =>
      allToAll(blocks, ctx, { sender: right, receiver: left }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.failure) this.failure = new RingError(`rank ${this.rank}: collective closed`, { failure: RING_FAILURES.closed });
    for (const o of this.outbound.values()) o.fail(this.failure);
    for (const i of this.inbound) if (!i.done) i.call.cancel();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    this.pool.clear();
    // Bounded: peers or strangers holding connections cannot keep a finished rank alive.
    await this.listener?.close();
  }

  /** A one-rank ring has no peers: the result is local, but a failed or closed collective still refuses. */
  private single<T>(compute: () => T): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    this.nextSeq++;
    return Promise.resolve(compute());
  }

  private describePeer(rank: number): string {
    const addr = this.peers[rank];
    return addr ? `rank ${rank} (${addr})` : `rank ${rank}`;
  }

  private client(rank: number): RingClient {
    let c = this.clients.get(rank);
    if (!c) {
      const addr = this.peers[rank];
      if (!addr) throw new RingError(`rank ${this.rank} has no address for rank ${rank}: connect() first`, { failure: RING_FAILURES.mismatch, peerRank: rank });
      c = createRingClient(addr, this.channelCredentials?.(rank));
      this.clients.set(rank, c);
    }
    return c;
  }

  private join(rank: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client(rank).join(
        { rank: this.rank, worldSize: this.worldSize, session: this.session },
        { deadline: Date.now() + timeoutMs },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Serializes operations (callers may not await each other) and runs one with fresh streams. */
  private run<T>(
    kind: OpKindValue,
    totalElements: number,
    wire: WireFormatValue,
    timeoutMs: number | undefined,
    partsEstimate: number,
    body: (ctx: RingContext, sender: (peer: number) => Outbound, receiver: (peer: number) => MessageQueue) => Promise<T>,
  ): Promise<T> {
    const next = this.chain.then(() => this.runNow(kind, totalElements, wire, timeoutMs ?? this.timeoutMs, partsEstimate, body));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runNow<T>(
    kind: OpKindValue,
    totalElements: number,
    wire: WireFormatValue,
    hopTimeoutMs: number,
    partsEstimate: number,
    body: (ctx: RingContext, sender: (peer: number) => Outbound, receiver: (peer: number) => MessageQueue) => Promise<T>,
  ): Promise<T> {
    if (this.failure) throw this.failure.failure === RING_FAILURES.closed ? this.failure : new RingError(`rank ${this.rank}: ring already failed: ${this.failure.message}`, { failure: this.failure.failure, peerRank: this.failure.peerRank, cause: this.failure });
    const seq = this.nextSeq++;
    const ctx: RingContext = { rank: this.rank, worldSize: this.worldSize, seq, maxMessageBytes: this.maxMessageBytes, hopTimeoutMs, describePeer: (r) => this.describePeer(r) };
    const mine: Array<[number, Outbound]> = [];
    const opened: Inbound[] = [];
    // The whole-call deadline is a backstop; the per-message hop deadline detects hangs first.
    const callDeadline = Date.now() + hopTimeoutMs * (8 + 2 * this.worldSize + 2 * partsEstimate);
    const sender = (peer: number): Outbound => {
      const o = this.outboundSlot(seq, peer);
      o.expected = { kind, totalElements, wire };
      o.onMismatch = (details) =>
        this.fail(new RingError(`rank ${this.rank} and ${this.describePeer(peer)} disagree about operation ${seq}: ${details}`, { failure: RING_FAILURES.mismatch, peerRank: peer }), true);
      o.check();
      mine.push([peer, o]);
      return o;
    };
    const receiver = (peer: number): MessageQueue => {
      const inb = this.openPull(seq, peer, kind, totalElements, wire, callDeadline);
      opened.push(inb);
      return inb.queue;
    };
    try {
      const result = await body(ctx, sender, receiver);
      await Promise.all(
        mine.map(([peer, o]) =>
          o.finish(hopTimeoutMs, () => new RingError(`rank ${this.rank} timed out after ${hopTimeoutMs} ms waiting for ${this.describePeer(peer)} to pull its chunks (seq ${seq})`, { failure: RING_FAILURES.timeout, peerRank: peer })),
        ),
      );
      return result;
    } catch (err) {
      throw this.fail(await this.diagnose(err), true);
    } finally {
      for (const inb of opened) inb.done = true;
      for (const [peer] of mine) this.outbound.delete(`${seq}:${peer}`);
    }
  }

  /**
   * A hop timeout only names the neighbour we waited for, which may itself be
   * starved by a hung rank further up the ring. Probe every peer's Health; the
   * ones that do not answer are named as the cause.
   */
  private async diagnose(err: unknown): Promise<unknown> {
    if (!(err instanceof RingError) || err.failure !== RING_FAILURES.timeout || this.failure || this.closed) return err;
    const probe = (peer: number): Promise<boolean> =>
      new Promise((resolve) => {
        this.client(peer).health({}, { deadline: Date.now() + HEALTH_PROBE_TIMEOUT_MS }, (e) => resolve(!e));
      });
    const peers = Array.from({ length: this.worldSize }, (_, r) => r).filter((r) => r !== this.rank);
    const alive = await Promise.all(peers.map(probe));
    const silent = peers.filter((_, i) => !alive[i]);
    if (silent.length === 0) return err;
    return new RingError(`${err.message}; unresponsive: ${silent.map((r) => this.describePeer(r)).join(', ')}`, { failure: RING_FAILURES.timeout, peerRank: silent[0], cause: err });
  }

  private outboundSlot(seq: number, receiver: number): Outbound {
    const key = `${seq}:${receiver}`;
    let o = this.outbound.get(key);
    if (!o) {
      o = new Outbound((n) => (this.sent += n), this.pool);
      this.outbound.set(key, o);
    }
    return o;
  }

  private onPull(call: PullCall): void {
    const req: PullRequest__Output = call.request;
    const reject = (code: grpc.status, details: string): void => {
      call.emit('error', { code, details });
    };
    if (this.failure) {
      reject(grpc.status.ABORTED, this.failure.message);
      return;
    }
    const receiver = req.receiverRank;
    if (req.worldSize !== this.worldSize || receiver >= this.worldSize || receiver === this.rank) {
      reject(grpc.status.INVALID_ARGUMENT, `rank ${this.rank} refused a pull from rank ${receiver} of world ${req.worldSize} (ring of ${this.worldSize})`);
      return;
    }
    // Operations are sequential: a receiver is at most one operation ahead of us, never behind.
    if (req.seq + 1 < this.nextSeq || req.seq > this.nextSeq + 1) {
      reject(grpc.status.FAILED_PRECONDITION, `rank ${this.rank} is at operation ${this.nextSeq - 1}; refused a pull for operation ${req.seq} from rank ${receiver}`);
      return;
    }
    const slot = this.outboundSlot(req.seq, receiver);
    if (slot.call) {
      reject(grpc.status.ALREADY_EXISTS, `rank ${this.rank} already streams operation ${req.seq} to rank ${receiver}`);
      return;
    }
    call.on('cancelled', () => {
      if (slot.isDone) return;
      this.fail(new RingError(`rank ${this.rank} lost its stream to ${this.describePeer(receiver)}: the receiver cancelled operation ${req.seq} (it failed or went away)`, { failure: RING_FAILURES.disconnected, peerRank: receiver }), true);
    });
    call.on('error', () => undefined);
    slot.attach(call);
  }

  private openPull(seq: number, from: number, kind: OpKindValue, totalElements: number, wire: WireFormatValue, deadline: number): Inbound {
    const queue = new MessageQueue();
    const call = this.client(from).pull({ seq, receiverRank: this.rank, kind, totalElements, wire, worldSize: this.worldSize }, { deadline });
    const inb: Inbound = { queue, call, done: false };
    this.inbound.add(inb);
    call.on('data', (m: RingMessage) => {
      queue.push(m);
      if (queue.length >= RECEIVE_HIGH_WATER) call.pause();
    });
    queue.onDrained = () => call.resume();
    call.on('error', (e: grpc.ServiceError) => {
      this.inbound.delete(inb);
      if (inb.done || this.closed) return;
      const failure = e.code === grpc.status.DEADLINE_EXCEEDED ? RING_FAILURES.timeout : e.code === grpc.status.ABORTED ? RING_FAILURES.aborted : RING_FAILURES.disconnected;
      const what = e.code === grpc.status.ABORTED ? `${this.describePeer(from)} aborted operation ${seq}: ${e.details}` : `rank ${this.rank} lost its stream from ${this.describePeer(from)} in operation ${seq}: ${e.code} ${grpc.status[e.code] ?? ''} ${e.details}`;
      queue.fail(this.fail(new RingError(what, { failure, peerRank: from, cause: e }), true));
    });
    call.on('end', () => this.inbound.delete(inb));
    // A non-OK status also arrives as 'error' (handled above); an OK one needs nothing.
    call.on('status', () => undefined);
    return inb;
  }

  /**
   * Poisons the collective with the first failure and tells everyone: fails
   * local streams (with the reason), and, when `tellPeers`, sends Abort to all
   * peers. Returns the error to throw.
   */
  private fail(err: unknown, tellPeers: boolean): RingError {
    if (this.failure) return this.failure;
    const ringErr = err instanceof RingError ? err : new RingError(`rank ${this.rank}: ${getErrorMessage(err)}`, { failure: RING_FAILURES.disconnected, cause: err });
    this.failure = ringErr;
    if (!this.closed) this.log.error('Failed ring operation', { rank: this.rank, reason: ringErr.message });
    for (const o of this.outbound.values()) o.fail(ringErr);
    for (const inb of this.inbound) {
      inb.queue.fail(ringErr);
      if (!inb.done) inb.call.cancel();
    }
    if (tellPeers && !this.closed) {
      for (let peer = 0; peer < this.worldSize; peer++) {
        if (peer === this.rank || !this.peers[peer]) continue;
        this.client(peer).abort(
          { originRank: this.rank, seq: Math.max(0, this.nextSeq - 1), reason: ringErr.message },
          { deadline: Date.now() + ABORT_RPC_TIMEOUT_MS },
          () => undefined,
        );
      }
    }
    return ringErr;
  }
}
