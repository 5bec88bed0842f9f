/**
 * Ring credentials on disk: the directory named by DAT_TLS_DIR holds
 * `ca.crt` (the job CA) and either
 * - `tls.crt` and `tls.key`: this rank's pair ({@link writeRingTlsDir} writes
 *   this layout, for tests and tools), or
 * - `ca.key`: the job CA's key (a pod: the operator's per-incarnation Secret),
 *   from which the worker issues its own rank certificate at start, so the
 *   Secret holds two entries whatever the number of ranks.
 * Local mode hands keys over stdin instead, see local-ring-tls.ts.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { access, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { WORKER_ENV } from './contract.js';
import { ConfigError, getErrorMessage } from './errors.js';
import { issueRankCertificate, type RingCredentials, type RingJobRef } from './certs.js';

/** File names inside a ring TLS directory (the same keys as a kubernetes.io/tls Secret plus `ca.crt`). */
export const TLS_FILES = {
  ca: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;

/** File of the job CA's private key in a pod's ring TLS directory (instead of tls.crt and tls.key). */
export const JOB_CA_KEY_FILE = 'ca.key';

/** Mode of the private key file: readable by the owner only. */
const KEY_FILE_MODE = 0o600;
/** Mode of the certificate files (public material). */
const CERT_FILE_MODE = 0o644;
/** Mode of a directory the launcher creates. */
const DIR_MODE = 0o700;

async function readPem(dir: string, file: string, what: string): Promise<string> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'is missing' : `cannot be read (${getErrorMessage(err)})`;
    throw new ConfigError(`ring TLS ${what} ${path} ${why}; the ring TLS directory must hold ${Object.values(TLS_FILES).join(', ')}`, err);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(`ring TLS ${what} ${path} is not PEM (no BEGIN line)`);
  return text;
}

function checkCertificate(pem: string, path: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`ring TLS ${what} ${path} is not a valid X.509 certificate: ${getErrorMessage(err)}`, err);
  }
}

/** Where each PEM of a {@link RingCredentials} came from, for error messages. */
export interface RingCredentialSources {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Checks credentials: every PEM parses, the key matches the certificate, and
 * the certificate was issued by the CA. Throws a ConfigError naming the source at fault.
 */
export function checkRingCredentials(creds: RingCredentials, from: RingCredentialSources): RingCredentials {
  const ca = checkCertificate(creds.caPem, from.ca, 'CA certificate');
  const cert = checkCertificate(creds.certPem, from.cert, 'certificate');
  let key;
  try {
    key = createPrivateKey(creds.keyPem);
  } catch (err) {
    throw new ConfigError(`ring TLS private key ${from.key} is not a valid private key: ${getErrorMessage(err)}`, err);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`ring TLS private key ${from.key} does not match certificate ${from.cert}`);
  // A mismatch here means a Secret from another job or incarnation was mounted: fail at start, not at the first handshake.
  if (!cert.verify(ca.publicKey)) throw new ConfigError(`ring TLS certificate ${from.cert} was not issued by the CA in ${from.ca}`);
  return creds;
}

/** The ring member a worker is: whose certificate it issues from a job CA key. */
export interface RingMember {
  readonly job: RingJobRef;
  readonly rank: number;
}

/**
 * Loads and checks a ring TLS directory: every file is present and parses,
 * the key matches the certificate, and the certificate was issued by the CA.
 * With a job CA key (`ca.key`) it issues `self`'s certificate instead.
 * Throws a ConfigError naming the file at fault.
 */
export async function loadRingTlsDir(dir: string, self?: RingMember): Promise<RingCredentials> {
  if (await exists(join(dir, JOB_CA_KEY_FILE))) return issueFromJobCa(dir, self);
  const [caPem, certPem, keyPem] = await Promise.all([
    readPem(dir, TLS_FILES.ca, 'CA certificate'),
    readPem(dir, TLS_FILES.cert, 'certificate'),
    readPem(dir, TLS_FILES.key, 'private key'),
  ]);
  return checkRingCredentials({ caPem, certPem, keyPem }, { ca: join(dir, TLS_FILES.ca), cert: join(dir, TLS_FILES.cert), key: join(dir, TLS_FILES.key) });
}

/**
 * Writes one rank's credentials into `dir` (created with mode 0700 when
 * missing); the key file gets mode 0600.
 */
export async function writeRingTlsDir(dir: string, creds: RingCredentials): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await writeFile(join(dir, TLS_FILES.ca), creds.caPem, { mode: CERT_FILE_MODE });
  await writeFile(join(dir, TLS_FILES.cert), creds.certPem, { mode: CERT_FILE_MODE });
  await writeFile(join(dir, TLS_FILES.key), creds.keyPem, { mode: KEY_FILE_MODE });
  // writeFile's mode applies only when it creates the file; an existing key keeps its old mode otherwise.
  await chmod(join(dir, TLS_FILES.key), KEY_FILE_MODE);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Issues `self`'s certificate from the job CA in `dir` (`ca.crt`, `ca.key`). */
async function issueFromJobCa(dir: string, self: RingMember | undefined): Promise<RingCredentials> {
  const caKeyPath = join(dir, JOB_CA_KEY_FILE);
  // Both layouts at once means a mount we did not expect: refuse rather than guess which identity to use.
  if ((await exists(join(dir, TLS_FILES.cert))) || (await exists(join(dir, TLS_FILES.key)))) {
    throw new ConfigError(`ring TLS directory ${dir} holds both a job CA key (${JOB_CA_KEY_FILE}) and a rank pair (${TLS_FILES.cert}, ${TLS_FILES.key}); it must hold one of them`);
  }
  if (self === undefined) {
    throw new ConfigError(`ring TLS directory ${dir} holds a job CA key (${JOB_CA_KEY_FILE}): set ${WORKER_ENV.namespace} so this worker can issue its rank certificate`);
  }
  const [caPem, caKeyPem] = await Promise.all([readPem(dir, TLS_FILES.ca, 'CA certificate'), readPem(dir, JOB_CA_KEY_FILE, 'CA private key')]);
  const ca = checkCertificate(caPem, join(dir, TLS_FILES.ca), 'CA certificate');
  let caKey;
  try {
    caKey = createPrivateKey(caKeyPem);
  } catch (err) {
    throw new ConfigError(`ring TLS CA private key ${caKeyPath} is not a valid private key: ${getErrorMessage(err)}`, err);
  }
  if (!ca.checkPrivateKey(caKey)) throw new ConfigError(`ring TLS CA private key ${caKeyPath} does not match CA certificate ${join(dir, TLS_FILES.ca)}`);
  const pair = await issueRankCertificate({ certPem: caPem, keyPem: caKeyPem }, self.job, self.rank);
  return checkRingCredentials({ caPem, ...pair }, { ca: join(dir, TLS_FILES.ca), cert: `(issued from ${caKeyPath})`, key: `(issued from ${caKeyPath})` });
}
