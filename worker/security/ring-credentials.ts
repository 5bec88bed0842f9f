/**
 * gRPC credentials of a ring member, built from its {@link RingCredentials}.
 *
 * Server side: TLS with a *requested* client certificate verified against the
 * job CA. The TLS layer does not drop a connection whose certificate is
 * missing or foreign (`requireClientCertificate: false`); instead grpc-js
 * reports no verified peer certificate for it, and the interceptor of
 * ring-auth.ts refuses every call on it with PERMISSION_DENIED before the
 * request reaches a handler. That costs an unauthenticated peer one TLS
 * handshake and one HTTP/2 HEADERS frame more than a TLS-level rejection, and
 * buys a refusal that is logged and counted with its reason (a TLS-level
 * rejection is invisible to the server: grpc-js swallows it).
 *
 * Client side: TLS with this rank's certificate; the server must present a
 * certificate of the same job and the rank this client dialed.
 */
import * as grpc from '@grpc/grpc-js';
import { checkPeerIdentity, ringIdentitiesOf, type RingCredentials, type RingJobRef } from './certs.js';
import { ConfigError } from '../util/errors.js';

/** The identity a ring member's own certificate names. */
export interface RingMemberIdentity {
  readonly job: RingJobRef;
  readonly rank: number;
}

/** The (single) ring identity in `creds`' own certificate; a ConfigError when there is none or several. */
export function ownRingIdentity(creds: RingCredentials): RingMemberIdentity {
  const ids = ringIdentitiesOf(creds.certPem);
  if (ids.length !== 1) throw new ConfigError(`ring certificate must carry exactly one dat-ring:// identity, found ${ids.length}`);
  return ids[0]!;
}

/**
 * A certificate provider serving fixed, in-memory PEMs (grpc-js's provider
 * interface: listeners get the current value after registration).
 *
 * The value is delivered on a microtask, not synchronously: grpc-js registers
 * the server's watcher only after the provider listeners return, so a
 * synchronous update is lost and the server drops every connection for
 * "unloaded credentials".
 */
class StaticCertificateProvider implements grpc.experimental.CertificateProvider {
  constructor(private readonly creds: RingCredentials) {}
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    queueMicrotask(() => listener({ caCertificate: Buffer.from(this.creds.caPem) }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    queueMicrotask(() => listener({ certificate: Buffer.from(this.creds.certPem), privateKey: Buffer.from(this.creds.keyPem) }));
  }
  removeIdentityCertificateListener(): void {}
}

/**
 * Server credentials of a ring member: its certificate, the job CA for client
 * certificates, and `interceptors` (the ring-auth interceptor) on every call.
 * A client certificate is requested and chain-verified; calls without a
 * verified one are refused by the interceptor (see the module comment).
 */
export function createRingServerCredentials(creds: RingCredentials, interceptors: grpc.ServerInterceptor[]): grpc.ServerCredentials {
  const provider = new StaticCertificateProvider(creds);
  // One provider serves both roles, so grpc-js's argument order (CA provider, identity provider) cannot be mixed up.
  const tls = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  return grpc.experimental.createServerCredentialsWithInterceptors(tls, interceptors);
}

/** Options of {@link createRingChannelCredentials}. */
export interface RingChannelOptions {
  /** Called with the reason when the server's certificate is refused (for logs and metrics). */
  readonly onRefused?: (reason: string) => void;
}

/**
 * Client credentials for dialing `expectedRank` of `job`: presents this rank's
 * certificate, trusts only the job CA, and accepts the server only when its
 * certificate names `expectedRank` of `job` (the URI SAN replaces the host
 * name check: pod IPs and DNS names are not what identifies a rank).
 */
export function createRingChannelCredentials(creds: RingCredentials, job: RingJobRef, expectedRank: number | 'any', opts: RingChannelOptions = {}): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(creds.caPem), Buffer.from(creds.keyPem), Buffer.from(creds.certPem), {
    checkServerIdentity: (_host, cert) => {
      const why = checkPeerIdentity(cert.raw, job, expectedRank);
      if (why === undefined) return undefined;
      opts.onRefused?.(why);
      return new Error(`Refused ring server: ${why}`);
    },
  });
}
