/**
 * gRPC plumbing of the ring: the service definition (proto/ring.proto, with the
 * hot `Chunk` message on the hand-written codec of ring-message.ts), channel
 * options, `createRingServer(handlers)` and the client constructor.
 *
 * Binding is the caller's job (`listenRingServer` in ring-listener.ts), so a
 * test or `main` decides the address, the port and the TLS settings.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/ring.js';
import type { Chunk } from '../gen/dat/ring/v1/Chunk.js';
import type { RingClient, RingHandlers } from '../gen/dat/ring/v1/Ring.js';
import type { PullRequest__Output } from '../gen/dat/ring/v1/PullRequest.js';
import { decodeRingMessage, encodeRingMessage, type RingMessage } from './ring-message.js';
import { PooledMessage } from './encode-pool.js';

const MIB = 1024 * 1024;

/**
 * gRPC's length prefix (1 flag byte, 4 length bytes). grpc-js reassembles each
 * received message with its prefix into one fresh buffer (stream-decoder.js,
 * `Buffer.concat`) and hands the deserializer the bytes after it, so a payload
 * at offset `o` of our message sits at `GRPC_MESSAGE_PREFIX_BYTES + o` of an
 * aligned allocation. The sender pads with this as `alignBase`.
 */
export const GRPC_MESSAGE_PREFIX_BYTES = 5;

/**
 * Channel options of every ring client (the receiving side of a hop). Each
 * value is chosen, not left at grpc-js defaults.
 */
export const RING_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Chunks are at most 1 MiB plus a header; 8 MiB accepts any chunk size we
  // allow with headroom, instead of the 4 MiB default that fails at exactly
  // the wrong moment with RESOURCE_EXHAUSTED.
  'grpc.max_receive_message_length': 8 * MIB,
  // Symmetric with the receive limit: a bug that builds a huge message fails on the sender.
  'grpc.max_send_message_length': 8 * MIB,
  // The receiver's HTTP/2 window (client side only in grpc-js). 16 MiB instead
  // of Node's 64 KiB lets ~16 chunks be in flight per stream: measured ~1.5x on
  // loopback, more at real RTTs (Node's default window is 65,535 bytes with no
  // BDP auto-tuning: grpc/grpc-node issues #2429 and #2669).
  'grpc-node.flow_control_window': 16 * MIB,
  // Measured on this machine (N = 3, 64 MiB all-reduce, CPU per op): 4 MiB and 2 MiB windows cost
  // 5-10% more CPU than 16 MiB. Not set, on purpose: HTTP/2 frame size. grpc-js 1.14 has no option for
  // SETTINGS_MAX_FRAME_SIZE, and Node 20's http2 sends DATA frames of at most 16 KiB whatever the peer
  // advertises (checked: a client advertising 16 MiB frames still receives 16 KiB 'data' chunks), so
  // each 1 MiB chunk arrives as 64 frames. 'grpc-node.max_session_memory' already defaults to
  // unlimited in grpc-js 1.14 (client and server).
  // Ping every 30 s so a peer whose node vanished without FIN is detected even
  // between steps; the per-hop deadline covers the in-step case.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // Peers start at different times: retry dialing quickly instead of backing off to 120 s.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  // Ring traffic is pod-to-pod; an HTTP(S)_PROXY in the environment must not capture it.
  'grpc.enable_http_proxy': 0,
  // Chunks are not idempotent across a failed stream; the ring fails the step instead.
  'grpc.enable_retries': 0,
  // mTLS peers are identified by their certificate's dat-ring:// URI, never by host name, so the TLS server
  // name is a constant: an IP address there (local mode, pod IPs) is invalid SNI and node warns (DEP0123).
  'grpc.ssl_target_name_override': 'dat-ring',
};

/**
 * Server options. Only peers holding a certificate of the job CA get this far
 * (the ring port's TLS handshake refuses the rest, see ring-listener.ts); these
 * limits keep authenticated peers in line too.
 */
export const RING_SERVER_OPTIONS: grpc.ServerOptions = {
  // Pull/Join/Health/Abort requests are a few hundred bytes (Abort carries an error message);
  // 64 KiB refuses garbage at its length prefix instead of buffering up to 1 MiB of it.
  'grpc.max_receive_message_length': 64 * 1024,
  // Same bound as the clients' receive limit.
  'grpc.max_send_message_length': 8 * MIB,
  // A peer needs at most a few streams at once (the Pull of this operation and the next, Health,
  // Abort); 32 per connection bounds a flood of streams while leaving room.
  'grpc.max_concurrent_streams': 32,
  // Close connections without calls for 10 minutes: longer than any gap between two ring operations
  // (an evaluation pass), so live peers rarely reconnect, but abandoned connections do not pile up.
  'grpc.max_connection_idle_ms': 10 * 60_000,
  // Ping every connection each minute and drop those that do not answer within 10 s: a peer that
  // froze or vanished without FIN stops holding server resources. Not set, on purpose:
  // grpc.max_connection_age_ms. A forced reconnect fails the operation on it (retries are off), and
  // only the job's own ranks hold connections.
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // Allow the clients' 30 s keepalive pings without counting them as abuse.
  'grpc.keepalive_permit_without_calls': 1,
};

/** Options matching the types generated by `proto-loader-gen-types --longs Number --enums Number --defaults --oneofs`. */
const LOADER_OPTIONS: protoLoader.Options = { longs: Number, enums: Number, defaults: true, oneofs: true, keepCase: false };

/** Finds proto/ring.proto from source (worker/comm) or compiled (dist/worker/comm) locations. */
function findProto(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto', 'ring.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/ring.proto not found above ' + dirname(fileURLToPath(import.meta.url)));
}

/** Path of the ring service's .proto file. */
export const RING_PROTO_PATH = findProto();

/** The loaded proto package, typed by the generated stubs (used by tests to compare codecs). */
export function loadRingPackage(): ProtoGrpcType {
  const def = protoLoader.loadSync(RING_PROTO_PATH, LOADER_OPTIONS);
  // loadPackageDefinition returns an untyped GrpcObject; the generated ProtoGrpcType describes it.
  return grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
}

/**
 * The Ring service definition with `Pull`'s response on the fast codec: the
 * server writes pre-encoded `Buffer`s (or `Chunk` objects), the client decodes
 * to {@link RingMessage} whose `data` is a view into the received bytes.
 */
function buildServiceDefinition(): grpc.ServiceDefinition {
  const pkg = loadRingPackage();
  const base = pkg.dat.ring.v1.Ring.service;
  const pull = base.Pull;
  return {
    ...base,
    Pull: {
      ...pull,
      responseSerialize: serializePullResponse,
      responseDeserialize: (bytes: Buffer): RingMessage => decodeRingMessage(bytes),
    },
  };
}

/**
 * What a Pull stream may write: pre-encoded bytes, a pooled encoded chunk, or a
 * `Chunk` object. grpc-js copies the returned bytes into its length-prefixed
 * frame synchronously, right after this returns (server-interceptors.js,
 * `serializeMessage`), so a pooled buffer goes back to its pool in a microtask:
 * after that copy, before anything else can reuse it.
 */
function serializePullResponse(value: PullResponse): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof PooledMessage) {
    const bytes = value.bytes;
    queueMicrotask(() => value.release());
    return bytes;
  }
  return encodeRingMessage(chunkToMessage(value));
}

function chunkToMessage(c: Chunk): RingMessage {
  const num = (v: unknown): number => (v === undefined || v === null ? 0 : Number(v));
  const data = c.data === undefined ? new Uint8Array(0) : typeof c.data === 'string' ? Buffer.from(c.data, 'base64') : c.data;
  return {
    seq: num(c.seq), step: num(c.step), phase: num(c.phase), chunkIndex: num(c.chunkIndex), part: num(c.part),
    senderRank: num(c.senderRank), chunkBytes: num(c.chunkBytes), data,
  };
}

/** The service definition used by servers and clients of the ring. */
export const RING_SERVICE: grpc.ServiceDefinition = buildServiceDefinition();

/** A message written to a Pull stream (see {@link serializePullResponse}). */
export type PullResponse = Buffer | PooledMessage | Chunk;

/** A Pull server stream that accepts pre-encoded chunks (see {@link RING_SERVICE}). */
export type PullCall = grpc.ServerWritableStream<PullRequest__Output, PullResponse>;

/** Handlers of the ring server; Pull may write pre-encoded Buffers. */
export interface RingServerHandlers {
  Pull(call: PullCall): void;
  Join: RingHandlers['Join'];
  Health: RingHandlers['Health'];
  Abort: RingHandlers['Abort'];
}

/** Builds (does not bind) a gRPC server exposing the ring service. */
export function createRingServer(handlers: RingServerHandlers, options: grpc.ServerOptions = RING_SERVER_OPTIONS): grpc.Server {
  const server = new grpc.Server(options);
  // grpc-js types handlers structurally per method; ours match the definition above.
  server.addService(RING_SERVICE, handlers as unknown as grpc.UntypedServiceImplementation);
  return server;
}

/** The client constructor for the ring service (typed by the generated stubs). */
const RingClientConstructor = grpc.makeGenericClientConstructor(RING_SERVICE, 'Ring') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => RingClient;

/** A ring client to `address` with {@link RING_CHANNEL_OPTIONS}. */
export function createRingClient(address: string, creds = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = RING_CHANNEL_OPTIONS): RingClient {
  return new RingClientConstructor(address, creds, options);
}
