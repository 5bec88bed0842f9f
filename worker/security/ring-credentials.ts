/**
 * Transport credentials of a ring member, built from its {@link RingCredentials}.
 *
 * Server side: the TLS context of the ring port (comm/ring-listener.ts runs
 * the handshake): this rank's pair, and the job CA as the only issuer of
 * acceptable client certificates. The handshake demands a client certificate
 * and fails without one from the job CA, so an unauthenticated peer never gets
 * an HTTP/2 session; the interceptor of ring-auth.ts then checks each call's
 * ring identity and claimed rank.
 *
 * Client side: TLS with this rank's certificate; the server must present a
 * certificate of the same job and the rank this client dialed.
 */
import * as grpc from '@grpc/grpc-js';
import { checkPeerIdentity, ringIdentitiesOf, type RingCredentials, type RingJobRef } from '../../common/certs.js';
import type { RingServerTls } from '../comm/ring-listener.js';
import { ConfigError } from '../../common/errors.js';

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

/** The ring port's TLS settings: this rank's pair, client certificates from the job CA only. */
export function createRingServerTls(creds: RingCredentials): RingServerTls {
  return { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem };
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
