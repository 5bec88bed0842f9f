/**
 * The {@link Collective} over gRPC: every rank runs a ring server (see
 * transport.ts) and, for each operation, pulls its left neighbour's chunks
 * over one server-streaming `Pull` call (the receiver is the client, so its
 * HTTP/2 window applies). The algorithms live in ring-allreduce.ts.
 *
 * This class wires the parts together: the service's handlers
 * (ring-handlers.ts), outbound flow control (ring-outbound.ts), inbound
 * streams (ring-inbound.ts), operation sequencing (ring-sequencer.ts) and
 * failure diagnosis (ring-diagnosis.ts).
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
import { silentLogger, type Logger } from '../../common/log.js';
import { getErrorMessage } from '../../common/errors.js';
import type { MessageQueue } from './message-queue.js';
import { EncodePool } from './encode-pool.js';
import { RING_FAILURES, RingError, UnsupportedOperationError } from './ring-errors.js';
import { OP_KINDS, WIRE_FORMATS, encodedBytesBound, type OpKindValue, type WireFormatValue } from './ring-message.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES, allToAll, mod, partCount, ringAllreduce, ringGather, type RingContext,
} from './ring-allreduce.js';
import { createRingClient, type RingServerHandlers } from './transport.js';
import type { RingListener } from './ring-listener.js';
import { createRingHandlers } from './ring-handlers.js';
import { Outbound } from './ring-outbound.js';
import { openInbound, type Inbound } from './ring-inbound.js';
import { OpSequencer } from './ring-sequencer.js';
import { HEALTH_PROBE_TIMEOUT_MS, diagnoseTimeout } from './ring-diagnosis.js';
import { yieldToEventLoop } from '../util/yield-to-event-loop.js';

/** Default per-hop deadline. */
export const DEFAULT_HOP_TIMEOUT_MS = 30_000;
/** Default time `connect()` keeps dialing peers that are still starting. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
/** Deadline of a best-effort Abort RPC to a peer (a hung peer must not delay our own failure). */
const ABORT_RPC_TIMEOUT_MS = 1_000;
/** Delay between Join attempts while a peer is still starting. */
const JOIN_RETRY_MS = 100;
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

/** The body of one operation, given its context and its links. */
type OpBody<T> = (ctx: RingContext, sender: (peer: number) => Outbound, receiver: (peer: number) => MessageQueue) => Promise<T>;

/** What both ends of every stream of an operation must agree on. */
interface OpShape {
  readonly kind: OpKindValue;
  readonly totalElements: number;
  readonly wire: WireFormatValue;
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
  private readonly sequencer: OpSequencer;
  private readonly inbound = new Set<Inbound>();
  private failure: RingError | undefined;
  private closed = false;
  private listener: RingListener | undefined;
  private sent = 0;
  private received = 0;
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
    this.sequencer = new OpSequencer(() => new Outbound((n) => (this.sent += n), this.pool));
    const failure = (): RingError | undefined => this.failure;
    this.handlers = createRingHandlers({
      rank: this.rank,
      worldSize: this.worldSize,
      session: this.session,
      sequencer: this.sequencer,
      get failure() {
        return failure();
      },
      describePeer: (r) => this.describePeer(r),
      fail: (err, tellPeers) => void this.fail(err, tellPeers),
    });
  }

  /** Total bytes this rank has written to the wire (encoded chunks). */
  get bytesSent(): number {
    return this.sent;
  }

  /** Total bytes this rank has received from the wire (encoded chunks). */
  get bytesReceived(): number {
    return this.received;
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
    if (this.worldSize === 1) return this.single(() => (opts.inPlace === true ? buf : Float32Array.from(buf)));
    const wire: WireFormatValue = opts.wire === 'f16' ? WIRE_FORMATS.f16 : WIRE_FORMATS.f32;
    const bpe = wire === WIRE_FORMATS.f16 ? 2 : 4;
    return this.run(OP_KINDS.allreduce, buf.length, wire, opts.timeoutMs, partCount(buf.length * bpe, this.maxMessageBytes), (ctx, right, left) =>
      ringAllreduce(buf, ctx, right(mod(this.rank + 1, this.worldSize)), left(mod(this.rank - 1, this.worldSize)), wire, opts.inPlace === true),
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
    for (const o of this.sequencer.outbound()) o.fail(this.failure);
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
    this.sequencer.begin();
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
  private run<T>(kind: OpKindValue, totalElements: number, wire: WireFormatValue, timeoutMs: number | undefined, partsEstimate: number, body: OpBody<T>): Promise<T> {
    return this.sequencer.enqueue(() => this.runNow({ kind, totalElements, wire }, timeoutMs ?? this.timeoutMs, partsEstimate, body));
  }

  /**
   * Runs one operation:
   * 1. Refuse when the collective already failed; take the next sequence number.
   * 2. Run the algorithm over outgoing slots and freshly opened Pull streams.
   * 3. Wait until every outgoing stream was pulled to the end (per-hop deadline).
   * 4. Let the event loop turn once, so those last chunks leave the process.
   * On any failure, name the culprit (diagnosis), poison the collective and tell the peers.
   */
  private async runNow<T>(shape: OpShape, hopTimeoutMs: number, partsEstimate: number, body: OpBody<T>): Promise<T> {
    // Step 1
    if (this.failure) throw this.failure.failure === RING_FAILURES.closed ? this.failure : new RingError(`rank ${this.rank}: ring already failed: ${this.failure.message}`, { failure: this.failure.failure, peerRank: this.failure.peerRank, cause: this.failure });
    const seq = this.sequencer.begin();
    const ctx: RingContext = { rank: this.rank, worldSize: this.worldSize, seq, maxMessageBytes: this.maxMessageBytes, hopTimeoutMs, describePeer: (r) => this.describePeer(r) };
    const mine: Array<[number, Outbound]> = [];
    const opened: Inbound[] = [];
    // The whole-call deadline is a backstop; the per-message hop deadline detects hangs first.
    const callDeadline = Date.now() + hopTimeoutMs * (8 + 2 * this.worldSize + 2 * partsEstimate);
    const sender = (peer: number): Outbound => {
      const o = this.sequencer.slot(seq, peer);
      o.expected = shape;
      o.onMismatch = (details) =>
        this.fail(new RingError(`rank ${this.rank} and ${this.describePeer(peer)} disagree about operation ${seq}: ${details}`, { failure: RING_FAILURES.mismatch, peerRank: peer }), true);
      o.check();
      mine.push([peer, o]);
      return o;
    };
    const receiver = (peer: number): MessageQueue => {
      const inb = this.openPull(seq, peer, shape, callDeadline);
      opened.push(inb);
      return inb.queue;
    };
    try {
      // Step 2
      const result = await body(ctx, sender, receiver);
      // Step 3
      await Promise.all(
        mine.map(([peer, o]) =>
          o.finish(hopTimeoutMs, () => new RingError(`rank ${this.rank} timed out after ${hopTimeoutMs} ms waiting for ${this.describePeer(peer)} to pull its chunks (seq ${seq})`, { failure: RING_FAILURES.timeout, peerRank: peer })),
        ),
      );
      // Step 4: HTTP/2 writes the last chunks to the socket in a later turn of the event loop; a caller
      // that starts minutes of synchronous work next would hold them back, and its peers with them.
      await yieldToEventLoop();
      return result;
    } catch (err) {
      throw this.fail(await this.diagnose(err), true);
    } finally {
      for (const inb of opened) inb.done = true;
      this.sequencer.release(seq, mine.map(([peer]) => peer));
    }
  }

  /** Names unresponsive peers in a hop timeout (see ring-diagnosis.ts); other errors pass through. */
  private diagnose(err: unknown): Promise<unknown> {
    if (this.failure || this.closed) return Promise.resolve(err);
    return diagnoseTimeout(err, {
      rank: this.rank,
      worldSize: this.worldSize,
      describePeer: (r) => this.describePeer(r),
      probe: (peer) => new Promise((resolve) => {
        this.client(peer).health({}, { deadline: Date.now() + HEALTH_PROBE_TIMEOUT_MS }, (e) => resolve(!e));
      }),
    });
  }

  /** Opens the Pull stream from `from` for operation `seq`; its failure poisons the collective. */
  private openPull(seq: number, from: number, shape: OpShape, deadline: number): Inbound {
    const request = { seq, receiverRank: this.rank, kind: shape.kind, totalElements: shape.totalElements, wire: shape.wire, worldSize: this.worldSize };
    const inb: Inbound = openInbound(this.client(from), request, deadline, {
      onClosed: () => this.inbound.delete(inb),
      onBytes: (n) => (this.received += n),
      onError: (e) => {
        if (this.closed) return;
        const failure = e.code === grpc.status.DEADLINE_EXCEEDED ? RING_FAILURES.timeout : e.code === grpc.status.ABORTED ? RING_FAILURES.aborted : RING_FAILURES.disconnected;
        const what = e.code === grpc.status.ABORTED ? `${this.describePeer(from)} aborted operation ${seq}: ${e.details}` : `rank ${this.rank} lost its stream from ${this.describePeer(from)} in operation ${seq}: ${e.code} ${grpc.status[e.code] ?? ''} ${e.details}`;
        inb.queue.fail(this.fail(new RingError(what, { failure, peerRank: from, cause: e }), true));
      },
    });
    this.inbound.add(inb);
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
    for (const o of this.sequencer.outbound()) o.fail(ringErr);
    for (const inb of this.inbound) {
      inb.queue.fail(ringErr);
      if (!inb.done) inb.call.cancel();
    }
    if (tellPeers && !this.closed) {
      for (let peer = 0; peer < this.worldSize; peer++) {
        if (peer === this.rank || !this.peers[peer]) continue;
        this.client(peer).abort(
          { originRank: this.rank, seq: this.sequencer.current, reason: ringErr.message },
          { deadline: Date.now() + ABORT_RPC_TIMEOUT_MS },
          () => undefined,
        );
      }
    }
    return ringErr;
  }
}
