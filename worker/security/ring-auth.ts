/**
 * Who may call a ring member, checked on every gRPC call before any handler
 * runs (a server interceptor installed with the server credentials of
 * ring-credentials.ts):
 *
 * 1. On the call's headers: the connection presented a client certificate
 *    verified against the job CA, whose ring identity names this job and a
 *    rank of the ring other than this member's own.
 * 2. On the request message: the rank the request claims (`receiver_rank`,
 *    `rank`, `origin_rank`) is the certificate's rank, and a ring-order Pull
 *    (all-reduce, gather) comes from the right neighbour, the only rank the
 *    protocol lets pull them. All-to-all Pulls, Join, Abort and Health may
 *    come from any member.
 *
 * A peer without a certificate of the job CA never gets this far: the ring
 * port's TLS handshake (comm/ring-listener.ts) refuses it; these checks are
 * the second wall and the per-rank rules.
 *
 * A refused call ends with PERMISSION_DENIED, is logged (`Refused ring peer`)
 * and counted in `dat_ring_refused_connections_total{reason}`; the stream is
 * then reset, so a caller still sending its request body is told to stop
 * instead of having it read and discarded.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import { OP_KINDS } from '../comm/ring-message.js';
import type { Logger } from '../../common/log.js';
import { ringIdentitiesOf } from '../../common/certs.js';
import type { RingMemberIdentity } from './ring-credentials.js';

/** Name of the refusal counter. */
export const REFUSED_METRIC = 'dat_ring_refused_connections_total';

/** Values of the counter's `reason` label. */
export const REFUSAL_REASONS = {
  /** No client certificate, or one the job CA did not issue (another job, a self-signed one). */
  unverifiedCertificate: 'unverified_certificate',
  /** A certificate of the job CA that names another job (or no ring identity at all). */
  wrongJob: 'wrong_job',
  /** A rank outside the ring, or this member's own rank. */
  wrongRank: 'wrong_rank',
  /** The request claims a rank that is not the certificate's. */
  rankMismatch: 'rank_mismatch',
  /** A ring-order Pull from a rank that is not the right neighbour. */
  notNeighbour: 'not_neighbour',
  /** A method the ring service does not have. */
  unknownMethod: 'unknown_method',
  /** The request message is not of the expected shape. */
  badRequest: 'bad_request',
  /** Client side: the dialed server's certificate does not name the dialed rank of this job. */
  serverIdentity: 'server_identity',
  /** A connection that did not finish its TLS handshake in time (slowloris, idle TCP). */
  handshakeTimeout: 'handshake_timeout',
  /** A connection beyond the ring port's limits, closed on accept. */
  tooManyConnections: 'too_many_connections',
} as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[keyof typeof REFUSAL_REASONS];

/** Why a call was refused. */
export interface RingRefusal {
  readonly reason: RefusalReason;
  readonly message: string;
}

/** gRPC method paths of the ring service (package dat.ring.v1, service Ring). */
export const RING_METHODS = {
  pull: '/dat.ring.v1.Ring/Pull',
  join: '/dat.ring.v1.Ring/Join',
  health: '/dat.ring.v1.Ring/Health',
  abort: '/dat.ring.v1.Ring/Abort',
} as const;

/** At most this many refusals are logged per window; the counter still counts all (a flood must not fill the disk). */
const LOG_BURST = 20;
const LOG_WINDOW_MS = 60_000;

/** What a ring member knows about itself when checking callers. */
export interface RingSelf extends RingMemberIdentity {
  readonly worldSize: number;
}

/**
 * Step 1: the caller's rank from its verified certificate (DER), or why it is refused.
 * `certDer` is undefined when the connection has no CA-verified client certificate.
 */
export function identifyCaller(certDer: Buffer | undefined, self: RingSelf): { rank: number } | RingRefusal {
  if (certDer === undefined || certDer.length === 0) {
    return { reason: REFUSAL_REASONS.unverifiedCertificate, message: 'no client certificate verified by the job CA' };
  }
  let ids: RingMemberIdentity[];
  try {
    ids = ringIdentitiesOf(certDer);
  } catch (err) {
    return { reason: REFUSAL_REASONS.unverifiedCertificate, message: `unreadable client certificate: ${(err as Error).message}` };
  }
  const mine = ids.filter((id) => id.job.namespace === self.job.namespace && id.job.name === self.job.name);
  if (mine.length !== 1) {
    const got = ids.length === 0 ? 'no ring identity' : ids.map((id) => `${id.job.namespace}/${id.job.name} rank ${id.rank}`).join(', ');
    return { reason: REFUSAL_REASONS.wrongJob, message: `client certificate names ${got}, expected a rank of ${self.job.namespace}/${self.job.name}` };
  }
  const rank = mine[0]!.rank;
  if (rank >= self.worldSize || rank === self.rank) {
    return { reason: REFUSAL_REASONS.wrongRank, message: `client certificate names rank ${rank}, not a peer of rank ${self.rank} in a ring of ${self.worldSize}` };
  }
  return { rank };
}

function numberField(req: unknown, field: string): number | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  const v = (req as Record<string, unknown>)[field];
  return typeof v === 'number' ? v : undefined;
}

/**
 * Step 2: whether `caller` (its certificate's rank) may make this request.
 * Pure: `request` is the decoded request message.
 */
export function authorizeRingRequest(method: string, request: unknown, caller: number, self: RingSelf): RingRefusal | undefined {
  const claim = (field: string): RingRefusal | undefined => {
    const claimed = numberField(request, field);
    if (claimed === undefined) return { reason: REFUSAL_REASONS.badRequest, message: `${method} request has no numeric ${field}` };
    if (claimed !== caller) return { reason: REFUSAL_REASONS.rankMismatch, message: `${method} request claims rank ${claimed}, client certificate names rank ${caller}` };
    return undefined;
  };
  switch (method) {
    case RING_METHODS.pull: {
      const bad = claim('receiverRank');
      if (bad) return bad;
      const kind = numberField(request, 'kind');
      const right = (self.rank + 1) % self.worldSize;
      if (kind !== OP_KINDS.allToAll && caller !== right) {
        return { reason: REFUSAL_REASONS.notNeighbour, message: `rank ${caller} may not pull ring-order operation kind ${kind} from rank ${self.rank}: only its right neighbour rank ${right} may` };
      }
      return undefined;
    }
    case RING_METHODS.join:
      return claim('rank');
    case RING_METHODS.abort:
      return claim('originRank');
    case RING_METHODS.health:
      return undefined;
    default:
      return { reason: REFUSAL_REASONS.unknownMethod, message: `no ring method ${method}` };
  }
}

/** The refusal counter. */
export interface RingAuthMetrics {
  readonly refused: Counter<'reason'>;
}

/** Registers the refusal counter on `registry` (once per registry). */
export function createRingAuthMetrics(registry: Registry): RingAuthMetrics {
  return {
    refused: new Counter({ name: REFUSED_METRIC, help: 'Ring calls or connections refused by peer authentication, by reason', labelNames: ['reason'], registers: [registry] }),
  };
}

/** Options of {@link createRingAuthInterceptor}. */
export interface RingAuthOptions {
  readonly self: RingSelf;
  readonly metrics: RingAuthMetrics;
  readonly log: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Logs and counts a refusal; logging is rate-limited, counting is not. */
export function createRefusalRecorder(opts: Pick<RingAuthOptions, 'metrics' | 'log' | 'now'>): (refusal: RingRefusal, fields: Record<string, string>) => void {
  const now = opts.now ?? Date.now;
  let windowStart = -Infinity;
  let logged = 0;
  let suppressed = 0;
  return (refusal, fields) => {
    opts.metrics.refused.inc({ reason: refusal.reason });
    const t = now();
    if (t - windowStart >= LOG_WINDOW_MS) {
      if (suppressed > 0) opts.log.warn('Suppressed ring peer refusal logs', { count: suppressed });
      windowStart = t;
      logged = 0;
      suppressed = 0;
    }
    if (logged >= LOG_BURST) {
      suppressed++;
      return;
    }
    logged++;
    opts.log.warn('Refused ring peer', { reason: refusal.reason, detail: refusal.message, ...fields });
  };
}

/**
 * Asks the client to stop sending a request the server has already answered:
 * RST_STREAM with NO_ERROR after the status (RFC 9113, section 8.1). grpc-js
 * otherwise resumes the stream and reads and discards the whole body. The
 * HTTP/2 stream is the `stream` field of grpc-js's base call (1.14), which is
 * what the first interceptor gets; without it nothing is reset (the
 * ring-listener test pins the behaviour).
 */
function resetRequestStream(call: grpc.ServerInterceptingCallInterface): void {
  const stream = (call as unknown as { stream?: unknown }).stream;
  if (typeof stream !== 'object' || stream === null || !('close' in stream) || !('sentHeaders' in stream)) return;
  const h2 = stream as http2.ServerHttp2Stream;
  if (!h2.closed && !h2.destroyed) h2.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** The server interceptor enforcing steps 1 and 2 on every call. */
export function createRingAuthInterceptor(opts: RingAuthOptions): grpc.ServerInterceptor {
  const record = createRefusalRecorder(opts);
  return (method, call) => {
    let caller: number | undefined;
    let refused = false;
    let halfClosed = false;
    const refuse = (r: RingRefusal): void => {
      refused = true;
      record(r, { method: method.path, peer: call.getPeer() });
      call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: `ring peer refused: ${r.message}` });
      resetRequestStream(call);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const who = identifyCaller(call.getAuthContext().sslPeerCertificate?.raw, opts.self);
            if ('reason' in who) {
              refuse(who);
              return;
            }
            caller = who.rank;
            mdNext(metadata);
          },
          onReceiveMessage: (message, msgNext) => {
            // After a refusal nothing reaches the handler; the status is already on its way.
            if (refused || caller === undefined) return;
            const bad = authorizeRingRequest(method.path, message, caller, opts.self);
            if (bad) {
              refuse(bad);
              return;
            }
            msgNext(message);
          },
          onReceiveHalfClose: (next) => {
            halfClosed = true;
            if (!refused) next();
          },
        });
      },
      // A handler that fails a call before the request ended (a refused Pull) stops the upload too.
      sendStatus: (status, next) => {
        next(status);
        if (status.code !== grpc.status.OK && !halfClosed) resetRequestStream(call);
      },
    });
  };
}
