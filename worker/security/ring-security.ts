/**
 * The ring's transport security for one worker, decided once at start:
 *
 * 1. Mutual TLS (the default): load DAT_TLS_DIR, check that its certificate
 *    names this worker's job and rank, and build the ring port's TLS settings
 *    (client certificate required in the handshake), the ring-auth
 *    interceptor, and per-peer client credentials.
 * 2. Plain text: only when asked for explicitly (DAT_INSECURE_RING=1 or
 *    `insecure: true`), with a warning in the log.
 *
 * Neither: a ConfigError, so a pod whose Secret is missing fails fast instead
 * of silently running an open ring.
 */
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { ConnectionRefusal, RingListenerOptions } from '../comm/ring-listener.js';
import { WORKER_ENV } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { RingCredentials } from '../../common/certs.js';
import { createRingAuthInterceptor, createRingAuthMetrics, createRefusalRecorder, REFUSAL_REASONS, type RefusalReason, type RingAuthMetrics } from './ring-auth.js';
import { createRingChannelCredentials, createRingServerTls, ownRingIdentity, type RingMemberIdentity } from './ring-credentials.js';
import { loadRingTlsDir } from '../../common/tls-files.js';

/** Env switch for plain-text ring traffic (`1` or `true`). */
export const INSECURE_RING_ENV = 'DAT_INSECURE_RING';

/** What the ring port needs from security: TLS, call interceptors, and where refusals go. */
export type RingServerSecurity = Pick<RingListenerOptions, 'tls' | 'interceptors' | 'onRefused'>;

/** How the ring of one worker is secured. */
export interface RingSecurity {
  readonly mode: 'mtls' | 'insecure';
  /** Settings of the ring port (pass to listenGrpcRing). */
  readonly server: RingServerSecurity;
  /** Client credentials for dialing `peerRank`. */
  channelCredentials(peerRank: number): grpc.ChannelCredentials;
  /** This worker's identity (mTLS only). */
  readonly identity?: RingMemberIdentity;
}

/** Options of {@link createRingSecurity}. */
export interface RingSecurityOptions {
  readonly rank: number;
  readonly worldSize: number;
  readonly jobName: string;
  /** The job's namespace: needed when `tlsDir` holds the job CA key, to issue this rank's certificate. */
  readonly namespace?: string;
  /** Directory with ca.crt and tls.crt, tls.key (or ca.key: see tls-files.ts). */
  readonly tlsDir?: string;
  /** Credentials already in memory (tests); wins over `tlsDir`. */
  readonly credentials?: RingCredentials;
  /** Plain text: no authentication at all. @default false */
  readonly insecure?: boolean;
  readonly log: Logger;
  /** Registry for `dat_ring_refused_connections_total`; a private one when unset. */
  readonly registry?: Registry;
  /** Metrics already registered (several rings sharing one registry in a test). */
  readonly metrics?: RingAuthMetrics;
}

/** Refusals at the ring port (before gRPC), as counter reasons. */
const CONNECTION_REFUSAL_REASONS: Readonly<Record<ConnectionRefusal['kind'], RefusalReason>> = {
  handshake_failed: REFUSAL_REASONS.unverifiedCertificate,
  unauthorized_certificate: REFUSAL_REASONS.unverifiedCertificate,
  handshake_timeout: REFUSAL_REASONS.handshakeTimeout,
  too_many_connections: REFUSAL_REASONS.tooManyConnections,
};

/** True when `env` asks for a plain-text ring. */
export function isInsecureRingRequested(env: NodeJS.ProcessEnv): boolean {
  const v = (env[INSECURE_RING_ENV] ?? '').trim().toLowerCase();
  return v === '1' || v === 'true';
}

/** Steps 1-2 of the module comment. */
export async function createRingSecurity(opts: RingSecurityOptions): Promise<RingSecurity> {
  if (opts.insecure && opts.credentials === undefined && opts.tlsDir === undefined) {
    // Step 2
    opts.log.warn('Started ring without TLS: any process that reaches the ring port can join, read and poison gradients', { insecure: true, env: INSECURE_RING_ENV });
    const insecure = grpc.credentials.createInsecure();
    return { mode: 'insecure', server: {}, channelCredentials: () => insecure };
  }
  if (opts.insecure) throw new ConfigError(`${INSECURE_RING_ENV} is set together with ring TLS credentials (${WORKER_ENV.tlsDir}); choose one`);
  // Step 1
  let creds = opts.credentials;
  if (creds === undefined) {
    if (opts.tlsDir === undefined) {
      throw new ConfigError(`ring TLS is required: set ${WORKER_ENV.tlsDir} to a directory with ca.crt, tls.crt and tls.key (or ca.crt and ca.key), or ${INSECURE_RING_ENV}=1 for an unauthenticated plain-text ring`);
    }
    const self = opts.namespace === undefined ? undefined : { job: { namespace: opts.namespace, name: opts.jobName }, rank: opts.rank };
    creds = await loadRingTlsDir(opts.tlsDir, self);
  }
  const identity = ownRingIdentity(creds);
  if (identity.rank !== opts.rank) throw new ConfigError(`ring certificate is for rank ${identity.rank}, but this worker is rank ${opts.rank}`);
  if (identity.job.name !== opts.jobName) throw new ConfigError(`ring certificate is for job ${identity.job.namespace}/${identity.job.name}, but this worker belongs to job ${opts.jobName}`);
  const metrics = opts.metrics ?? createRingAuthMetrics(opts.registry ?? new Registry());
  const self = { ...identity, worldSize: opts.worldSize };
  const log = opts.log;
  const record = createRefusalRecorder({ metrics, log });
  const server: RingServerSecurity = {
    tls: createRingServerTls(creds),
    interceptors: [createRingAuthInterceptor({ self, metrics, log })],
    onRefused: (r) => record({ reason: CONNECTION_REFUSAL_REASONS[r.kind], message: r.message }, { peer: r.peer }),
  };
  const channels = new Map<number, grpc.ChannelCredentials>();
  const finalCreds = creds;
  log.info('Loaded ring TLS credentials', { job: `${identity.job.namespace}/${identity.job.name}`, rank: identity.rank });
  return {
    mode: 'mtls',
    identity,
    server,
    channelCredentials: (peerRank) => {
      let c = channels.get(peerRank);
      if (!c) {
        c = createRingChannelCredentials(finalCreds, identity.job, peerRank, {
          onRefused: (message) => record({ reason: REFUSAL_REASONS.serverIdentity, message }, { side: 'client', peerRank: String(peerRank) }),
        });
        channels.set(peerRank, c);
      }
      return c;
    },
  };
}
