/**
 * Ring identities: a per-job certificate authority and one certificate per
 * rank, so that a ring member accepts only peers of its own job that present
 * the rank it expects.
 *
 * Node's crypto generates keys but cannot issue certificates, so issuance uses
 * `@peculiar/x509` (maintained, pure TypeScript, on WebCrypto: keys never leave
 * node's native crypto, and ECDSA P-256 keeps issuance to milliseconds).
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs it
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, X509Certificate } from 'node:crypto';
import { ConfigError } from './errors.js';

// Node's webcrypto is the standard WebCrypto; the library types it with the DOM's `Crypto`.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** URI SAN scheme naming a ring member: `dat-ring://<namespace>/<job>/rank/<r>`. */
export const RING_IDENTITY_SCHEME = 'dat-ring:';
/** Default certificate lifetime; the operator re-issues on every gang restart anyway. */
export const DEFAULT_VALIDITY_DAYS = 30;
/** Allowed clock skew between the issuer and the peers. */
const NOT_BEFORE_SKEW_MS = 5 * 60 * 1000;

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What one ring member needs: the job CA (to verify peers) and its own key pair. */
export interface RingCredentials {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** The job a ring belongs to. */
export interface RingJobRef {
  readonly namespace: string;
  readonly name: string;
}

export interface IssueOptions {
  /** @default 30 */
  readonly validityDays?: number;
  /** Extra DNS names for the certificate (the pod's DNS name). */
  readonly dnsNames?: readonly string[];
  /** Extra IP addresses for the certificate. */
  readonly ipAddresses?: readonly string[];
}

/** The identity URI of `rank` in `job`. */
export function ringIdentity(job: RingJobRef, rank: number): string {
  return `${RING_IDENTITY_SCHEME}//${job.namespace}/${job.name}/rank/${rank}`;
}

/** Parses a ring identity URI; undefined when it is not one. */
export function parseRingIdentity(uri: string): { job: RingJobRef; rank: number } | undefined {
  const m = /^dat-ring:\/\/([^/]+)\/([^/]+)\/rank\/(\d+)$/.exec(uri);
  if (!m) return undefined;
  return { job: { namespace: m[1]!, name: m[2]! }, rank: Number(m[3]) };
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), KEY_ALGORITHM, true, ['sign']);
}

function serial(): string {
  // Positive 128-bit serial: clear the top bit so DER does not read it as negative.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  if (!(days > 0)) throw new ConfigError(`certificate validityDays must be > 0, got ${days}`);
  const now = Date.now();
  return { notBefore: new Date(now - NOT_BEFORE_SKEW_MS), notAfter: new Date(now + days * 86_400_000) };
}

/** Creates the self-signed CA of one job (one incarnation of its gang). */
export async function createJobCa(job: RingJobRef, opts: IssueOptions = {}): Promise<PemPair> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=dat-ring-ca ${job.namespace}/${job.name}`,
    ...validity(opts.validityDays ?? DEFAULT_VALIDITY_DAYS),
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Issues rank `rank`'s certificate, valid both as a TLS server and a TLS client. */
export async function issueRankCertificate(ca: PemPair, job: RingJobRef, rank: number, opts: IssueOptions = {}): Promise<PemPair> {
  if (!Number.isInteger(rank) || rank < 0) throw new ConfigError(`rank must be a non-negative integer, got ${rank}`);
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const altNames: x509.JsonGeneralName[] = [{ type: 'url', value: ringIdentity(job, rank) }];
  for (const d of opts.dnsNames ?? []) altNames.push({ type: 'dns', value: d });
  for (const ip of opts.ipAddresses ?? []) altNames.push({ type: 'ip', value: ip });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${job.name}-rank-${rank}`,
    issuer: caCert.subject,
    ...validity(opts.validityDays ?? DEFAULT_VALIDITY_DAYS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(altNames),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** A CA and every rank's credentials for a ring of `worldSize`. */
export async function createRingCredentials(
  job: RingJobRef,
  worldSize: number,
  perRank: (rank: number) => IssueOptions = () => ({}),
): Promise<{ ca: PemPair; ranks: RingCredentials[] }> {
  const ca = await createJobCa(job);
  const ranks: RingCredentials[] = [];
  for (let r = 0; r < worldSize; r++) {
    const pair = await issueRankCertificate(ca, job, r, perRank(r));
    ranks.push({ caPem: ca.certPem, ...pair });
  }
  return { ca, ranks };
}

/**
 * The ring identities (URI SANs) of a peer certificate, from its DER or PEM.
 * TLS has already verified the chain against the job CA when this is called.
 */
export function ringIdentitiesOf(cert: Buffer | string): { job: RingJobRef; rank: number }[] {
  const c = new X509Certificate(cert);
  const san = c.subjectAltName ?? '';
  const out: { job: RingJobRef; rank: number }[] = [];
  for (const part of san.split(/,\s*/)) {
    const m = /^URI:(.*)$/.exec(part.trim());
    if (!m) continue;
    const id = parseRingIdentity(m[1]!);
    if (id) out.push(id);
  }
  return out;
}

/**
 * Why a peer certificate is not acceptable as `expectedRank` of `job`, or
 * undefined when it is.
 */
export function checkPeerIdentity(cert: Buffer | string | undefined, job: RingJobRef, expectedRank: number | 'any'): string | undefined {
  if (cert === undefined || (typeof cert !== 'string' && cert.length === 0)) return 'peer presented no certificate';
  let ids: { job: RingJobRef; rank: number }[];
  try {
    ids = ringIdentitiesOf(cert);
  } catch (err) {
    return `peer certificate is unreadable: ${(err as Error).message}`;
  }
  if (ids.length === 0) return 'peer certificate carries no ring identity';
  const ok = ids.some((id) => id.job.namespace === job.namespace && id.job.name === job.name && (expectedRank === 'any' || id.rank === expectedRank));
  if (ok) return undefined;
  const got = ids.map((id) => `${id.job.namespace}/${id.job.name} rank ${id.rank}`).join(', ');
  const want = `${job.namespace}/${job.name} rank ${expectedRank === 'any' ? '*' : expectedRank}`;
  return `peer certificate identifies ${got}, expected ${want}`;
}
