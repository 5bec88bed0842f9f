/**
 * Ring TLS for local mode (`dat train --workers N`): a CA and one certificate
 * per rank in a private temp directory, one `rank-<r>/` (ca.crt, tls.crt,
 * tls.key) per worker process, so local runs take exactly the pod code path
 * (DAT_TLS_DIR, mutual TLS, per-rank identity checks).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRingCredentials, type RingJobRef } from './certs.js';
import { writeRingTlsDir } from './tls-files.js';

/** The job identity of a local ring (namespace and name in the certificates). */
export const LOCAL_RING_JOB: RingJobRef = { namespace: 'local', name: 'local' };

/** Per-rank TLS directories of a local ring; `cleanup` removes them (keys included). */
export interface LocalRingTls {
  /** DAT_TLS_DIR of rank `rank`. */
  dirFor(rank: number): string;
  cleanup(): Promise<void>;
}

/** Issues a new CA and `worldSize` rank certificates into a fresh 0700 temp directory. */
export async function prepareLocalRingTls(worldSize: number, job: RingJobRef = LOCAL_RING_JOB): Promise<LocalRingTls> {
  // mkdtemp creates the directory with mode 0700: other local users cannot read the keys.
  const root = await mkdtemp(join(tmpdir(), 'dat-ring-tls-'));
  try {
    const { ranks } = await createRingCredentials(job, worldSize);
    await Promise.all(ranks.map((creds, rank) => writeRingTlsDir(join(root, `rank-${rank}`), creds)));
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    dirFor: (rank) => join(root, `rank-${rank}`),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
