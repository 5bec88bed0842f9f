/**
 * Ring TLS for local mode (`dat train --workers N`): a CA and one certificate
 * per rank, issued in the launcher's memory and handed to each worker process
 * over its stdin (one JSON line, before anything else), so local runs take the
 * pod code path (mutual TLS, per-rank identity checks) while no key ever
 * touches the disk: a launcher killed with SIGKILL leaves nothing behind.
 */
import type { Readable } from 'node:stream';
import { createRingCredentials, type RingCredentials, type RingJobRef } from '../../common/certs.js';
import { checkRingCredentials } from '../../common/tls-files.js';
import { ConfigError } from '../../common/errors.js';

/** The job identity of a local ring (namespace and name in the certificates). */
export const LOCAL_RING_JOB: RingJobRef = { namespace: 'local', name: 'local' };

/** Set by the launcher: this worker's ring credentials arrive as the first line of stdin. */
export const TLS_STDIN_ENV = 'DAT_RING_TLS_STDIN';

/** How long a worker waits for its credentials line (the launcher writes it right after spawning). */
export const TLS_STDIN_TIMEOUT_MS = 30_000;

/** A stdin line longer than this is not credentials (three PEMs are about 2 KiB). */
const MAX_LINE_BYTES = 64 * 1024;

/** Issues a new CA and `worldSize` rank certificates, in memory (the CA key is discarded). */
export async function issueLocalRingTls(worldSize: number, job: RingJobRef = LOCAL_RING_JOB): Promise<readonly RingCredentials[]> {
  return (await createRingCredentials(job, worldSize)).ranks;
}

/** The line the launcher writes to a worker's stdin. */
export function formatCredentialsLine(creds: RingCredentials): string {
  return JSON.stringify({ caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem }) + '\n';
}

function parseCredentialsLine(line: string): RingCredentials {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ConfigError(`${TLS_STDIN_ENV} is set but the first stdin line is not JSON ring credentials`);
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (typeof o.caPem !== 'string' || typeof o.certPem !== 'string' || typeof o.keyPem !== 'string') {
    throw new ConfigError(`${TLS_STDIN_ENV} is set but the first stdin line lacks caPem, certPem or keyPem`);
  }
  const src = (what: string): string => `(${what} from the launcher on stdin)`;
  return checkRingCredentials({ caPem: o.caPem, certPem: o.certPem, keyPem: o.keyPem }, { ca: src('CA'), cert: src('certificate'), key: src('key') });
}

/**
 * Reads the first line of `input` as ring credentials and stops reading (the
 * rest of stdin stays for the launcher watch). Rejects on end, oversize or timeout.
 */
export function readCredentialsLine(input: Readable, timeoutMs = TLS_STDIN_TIMEOUT_MS): Promise<RingCredentials> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
      try {
        fn();
      } catch (err) {
        reject(err);
      }
    };
    const onData = (chunk: Buffer | string): void => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const rest = buf.slice(nl + 1);
        finish(() => {
          if (rest.length > 0) input.unshift(Buffer.from(rest));
          resolve(parseCredentialsLine(buf.slice(0, nl)));
        });
      } else if (buf.length > MAX_LINE_BYTES) {
        finish(() => reject(new ConfigError(`${TLS_STDIN_ENV} is set but stdin sent over ${MAX_LINE_BYTES} bytes without a newline`)));
      }
    };
    const onEnd = (): void => finish(() => reject(new ConfigError(`${TLS_STDIN_ENV} is set but stdin ended before the ring credentials (the launcher went away)`)));
    const timer = setTimeout(() => finish(() => reject(new ConfigError(`${TLS_STDIN_ENV} is set but no ring credentials arrived on stdin within ${timeoutMs} ms`))), timeoutMs);
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}
