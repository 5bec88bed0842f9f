/**
 * The same ring algorithms (ring-allreduce.ts) over plain `node:net` sockets
 * with length-prefixed frames: the ceiling the gRPC transport is measured
 * against in bench/allreduce.ts. One persistent connection per hop; as in the
 * gRPC ring, the receiver dials its left neighbour, which then streams to it.
 *
 * Frame: u32 little-endian length, then a `Chunk` in the codec of
 * ring-message.ts. Failure handling is simpler than the gRPC ring's (no Abort
 * RPC): a hop deadline or a closed socket fails the operation and closes the
 * sockets, which fails the neighbours in turn.
 */
import * as net from 'node:net';
import type { AllreduceOptions, Collective, CollectiveCallOptions } from './collective.js';
import { MessageQueue } from './message-queue.js';
import { RING_FAILURES, RingError, UnsupportedOperationError } from './ring-errors.js';
import { RingDecodeError, decodeRingMessage, encodeRingMessage, WIRE_FORMATS, type RingMessage } from './ring-message.js';
import { DEFAULT_MAX_MESSAGE_BYTES, mod, ringAllreduce, ringGather, type RingContext, type RingSendLink } from './ring-allreduce.js';
import { getErrorMessage } from '../../common/errors.js';

const FRAME_HEADER_BYTES = 4;
/** Frames above this are a protocol error (chunks are at most a few MiB). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Pause the socket when this many decoded messages wait to be reduced. */
const RECEIVE_HIGH_WATER = 32;
/** How long close() lets the last bytes drain to the right neighbour before destroying the socket. */
const TCP_CLOSE_GRACE_MS = 1_000;

/** Options of {@link TcpRingCollective}. */
export interface TcpRingOptions {
  readonly rank: number;
  readonly worldSize: number;
  /** Per-message deadline. @default 30000 */
  readonly timeoutMs?: number;
  /** @default 1048576 */
  readonly maxMessageBytes?: number;
  /** @default 60000 */
  readonly connectTimeoutMs?: number;
}

/** Writes frames to a socket, honouring `write() === false` by waiting for 'drain'. */
class SocketSender implements RingSendLink {
  private readonly queue: Buffer[] = [];
  private waiting = false;
  private flushWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private error: Error | undefined;
  bytes = 0;
  constructor(private readonly socket: net.Socket) {
    socket.on('drain', () => {
      this.waiting = false;
      this.pump();
    });
  }

  /** The socket closed: pending and future flushes fail (a completed send is unaffected). */
  close(err: Error): void {
    this.error ??= err;
    const w = this.flushWaiters;
    this.flushWaiters = [];
    for (const f of w) f.reject(err);
  }

  send(msg: RingMessage): void {
    if (this.error) return;
    const body = encodeRingMessage(msg);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32LE(body.length, 0);
    this.bytes += body.length + FRAME_HEADER_BYTES;
    this.queue.push(header, body);
    this.pump();
  }

  flushed(): Promise<void> {
    if (this.error && (this.queue.length > 0 || this.waiting)) return Promise.reject(this.error);
    if (this.queue.length === 0 && !this.waiting) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  private pump(): void {
    while (!this.waiting && this.queue.length > 0) {
      if (!this.socket.write(this.queue.shift()!)) this.waiting = true;
    }
    if (!this.waiting && this.queue.length === 0) {
      const w = this.flushWaiters;
      this.flushWaiters = [];
      for (const f of w) f.resolve();
    }
  }
}

/**
 * Splits a byte stream into frames and decodes them into a queue. Chunks are
 * only concatenated once a whole frame has arrived, so each byte is copied once.
 */
function attachFrameReader(socket: net.Socket, queue: MessageQueue, onError: (e: Error) => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Length of the frame being assembled, once its header is known. */
  let need: number | undefined;
  socket.on('data', (data: Buffer) => {
    pending.push(data);
    pendingBytes += data.length;
    for (;;) {
      if (need === undefined) {
        if (pendingBytes < FRAME_HEADER_BYTES) return;
        if (pending[0]!.length < FRAME_HEADER_BYTES) pending = [Buffer.concat(pending, pendingBytes)];
        need = pending[0]!.readUInt32LE(0);
        if (need > MAX_FRAME_BYTES) {
          onError(new RingDecodeError(`frame of ${need} bytes exceeds ${MAX_FRAME_BYTES}`));
          socket.destroy();
          return;
        }
      }
      if (pendingBytes < FRAME_HEADER_BYTES + need) return;
      const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      try {
        queue.push(decodeRingMessage(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + need)));
      } catch (e) {
        onError(e as Error);
        socket.destroy();
        return;
      }
      const rest = buf.subarray(FRAME_HEADER_BYTES + need);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
      need = undefined;
      // Reads are pull-based like gRPC's: stop reading (the kernel window fills) while the reducer lags.
      if (queue.length >= RECEIVE_HIGH_WATER) socket.pause();
    }
  });
}

export class TcpRingCollective implements Collective {
  readonly rank: number;
  readonly worldSize: number;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  private server: net.Server | undefined;
  /** Every accepted socket, so close() can end them all (server.close waits for open connections). */
  private readonly accepted = new Set<net.Socket>();
  private toRight: { socket: net.Socket; sender: SocketSender } | undefined;
  private fromLeft: { socket: net.Socket; queue: MessageQueue } | undefined;
  private rightReady: { promise: Promise<void>; resolve: () => void };
  private peers: readonly string[] = [];
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: RingError | undefined;
  private rightLost: RingError | undefined;
  private closing = false;

  constructor(opts: TcpRingOptions) {
    if (!Number.isInteger(opts.rank) || opts.rank < 0 || opts.rank >= opts.worldSize) throw new RangeError(`rank must be in [0, ${opts.worldSize}), got ${opts.rank}`);
    this.rank = opts.rank;
    this.worldSize = opts.worldSize;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 60_000;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.rightReady = { promise, resolve };
  }

  get bytesSent(): number {
    return this.toRight?.sender.bytes ?? 0;
  }

  /** Listens on `host:port` (0 = any free port); resolves to the port. The right neighbour dials in here. */
  listen(host: string, port: number): Promise<number> {
    const server = net.createServer((socket) => {
      this.accepted.add(socket);
      socket.once('close', () => this.accepted.delete(socket));
      socket.setNoDelay(true);
      // The first 4 bytes name the dialing rank; only the right neighbour may dial.
      socket.once('readable', () => {
        const hello = socket.read(4) as Buffer | null;
        const right = mod(this.rank + 1, this.worldSize);
        if (!hello || hello.readUInt32LE(0) !== right || this.toRight) {
          socket.destroy();
          return;
        }
        this.toRight = { socket, sender: new SocketSender(socket) };
        // The right neighbour may close as soon as it has everything it needs: that only fails
        // sends still pending (and later operations), never a receive in progress.
        const lost = (why: string): void => {
          if (this.closing) return;
          const err = new RingError(`rank ${this.rank}: ${this.describe(right)} ${why}`, { failure: RING_FAILURES.disconnected, peerRank: right });
          this.toRight?.sender.close(err);
          this.rightLost ??= err;
        };
        socket.on('error', (e) => lost(`broke its socket: ${e.message}`));
        socket.on('close', () => lost('closed its socket'));
        this.rightReady.resolve();
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  /** Dials the left neighbour (retrying while it starts) and waits for the right one to dial in. */
  async connect(peers: readonly string[]): Promise<void> {
    this.peers = peers;
    if (this.worldSize === 1) return;
    const left = mod(this.rank - 1, this.worldSize);
    const [host, portText] = splitHostPort(peers[left]!);
    const until = Date.now() + this.connectTimeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host, port: Number(portText) }, () => resolve(s));
          s.once('error', reject);
        });
        socket.setNoDelay(true);
        const hello = Buffer.alloc(4);
        hello.writeUInt32LE(this.rank, 0);
        socket.write(hello);
        const queue = new MessageQueue();
        queue.onDrained = () => socket.resume();
        attachFrameReader(socket, queue, (e) => this.fail(new RingError(`rank ${this.rank} rejected a malformed frame from ${this.describe(left)}: ${e.message}`, { failure: RING_FAILURES.malformed, peerRank: left })));
        // Messages that arrived before the close are still valid (the left neighbour may finish first).
        socket.on('error', (e) => {
          if (!this.closing) queue.fail(new RingError(`rank ${this.rank} lost its socket from ${this.describe(left)}: ${e.message}`, { failure: RING_FAILURES.disconnected, peerRank: left }), true);
        });
        socket.on('close', () => {
          if (!this.closing) queue.fail(new RingError(`rank ${this.rank}: ${this.describe(left)} closed its socket`, { failure: RING_FAILURES.disconnected, peerRank: left }), true);
        });
        this.fromLeft = { socket, queue };
        break;
      } catch (err) {
        if (Date.now() >= until) throw new RingError(`rank ${this.rank} could not connect to ${this.describe(left)}: ${getErrorMessage(err)}`, { failure: RING_FAILURES.disconnected, peerRank: left, cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.rightReady.promise,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new RingError(`rank ${this.rank}: right neighbour did not connect`, { failure: RING_FAILURES.timeout })), Math.max(1, until - Date.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    await this.barrier();
  }

  allreduce(buf: Float32Array, opts: AllreduceOptions = {}): Promise<Float32Array> {
    if (opts.op !== undefined && opts.op !== 'sum') return Promise.reject(new UnsupportedOperationError('tcp-ring', `allreduce op ${String(opts.op)}`));
    const wire = opts.wire === 'f16' ? WIRE_FORMATS.f16 : WIRE_FORMATS.f32;
    return this.run(opts.timeoutMs, (ctx, right, left) => ringAllreduce(buf, ctx, right, left, wire, opts.inPlace === true));
  }

  allgather(buf: Uint8Array, opts: CollectiveCallOptions = {}): Promise<Uint8Array[]> {
    return this.run(opts.timeoutMs, (ctx, right, left) => ringGather(buf, ctx, right, left));
  }

  async broadcast(buf: Uint8Array, root: number, opts?: CollectiveCallOptions): Promise<Uint8Array> {
    return (await this.allgather(this.rank === root ? buf : new Uint8Array(0), opts))[root]!;
  }

  async barrier(opts?: CollectiveCallOptions): Promise<void> {
    await this.allgather(new Uint8Array(0), opts);
  }

  async close(): Promise<void> {
    if (!this.failure) this.failure = new RingError(`rank ${this.rank}: collective closed`, { failure: RING_FAILURES.closed });
    this.closing = true;
    // end(), not destroy(): what was written still reaches the right neighbour.
    const right = this.toRight?.socket;
    right?.end();
    // A right neighbour that never reads must not keep this rank from closing.
    if (right) setTimeout(() => right.destroy(), TCP_CLOSE_GRACE_MS).unref();
    this.fromLeft?.socket.destroy();
    for (const s of this.accepted) if (s !== right) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private describe(rank: number): string {
    return this.peers[rank] ? `rank ${rank} (${this.peers[rank]})` : `rank ${rank}`;
  }

  private run<T>(timeoutMs: number | undefined, body: (ctx: RingContext, right: SocketSender, left: MessageQueue) => Promise<T>): Promise<T> {
    const next = this.chain.then(async () => {
      if (this.failure) throw this.failure;
      if (this.rightLost) throw this.rightLost;
      const ctx: RingContext = {
        rank: this.rank, worldSize: this.worldSize, seq: this.seq++, maxMessageBytes: this.maxMessageBytes,
        hopTimeoutMs: timeoutMs ?? this.timeoutMs, describePeer: (r) => this.describe(r),
      };
      if (this.worldSize === 1) return body(ctx, undefined as never, undefined as never);
      try {
        const result = await body(ctx, this.toRight!.sender, this.fromLeft!.queue);
        await this.toRight!.sender.flushed();
        return result;
      } catch (err) {
        this.fail(err);
        throw this.failure ?? err;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof RingError ? err : new RingError(`rank ${this.rank}: ${getErrorMessage(err)}`, { failure: RING_FAILURES.disconnected, cause: err });
    this.fromLeft?.queue.fail(this.failure);
    this.toRight?.socket.destroy();
    this.fromLeft?.socket.destroy();
  }
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), addr.slice(i + 1)];
}
