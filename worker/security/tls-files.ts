/**
 * Ring credentials on disk: the directory named by DAT_TLS_DIR holds
 * `ca.crt` (the job CA), `tls.crt` and `tls.key` (this rank's pair). In a pod
 * it is the mounted ring-TLS Secret ({@link writeRingTlsDir} writes the same
 * layout, for tests and tools; local mode hands keys over stdin instead, see
 * local-ring-tls.ts).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, getErrorMessage } from '../util/errors.js';
import type { RingCredentials } from './certs.js';

/** File names inside a ring TLS directory (the same keys as a kubernetes.io/tls Secret plus `ca.crt`). */
export const TLS_FILES = {
  ca: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;

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

/**
 * Loads and checks a ring TLS directory: every file is present and parses,
 * the key matches the certificate, and the certificate was issued by the CA.
 * Throws a ConfigError naming the file at fault.
 */
export async function loadRingTlsDir(dir: string): Promise<RingCredentials> {
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
