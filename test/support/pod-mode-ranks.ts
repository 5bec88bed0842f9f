/**
 * Ranks started one by one as the operator's pods start them (not by the
 * local launcher): peers from DAT_PEER_TEMPLATE plus DAT_WORLD_SIZE, a ring
 * TLS directory holding only the job CA, an empty termination log per rank
 * (as the kubelet provides), and the `dat` command itself (bin/dat.js, as a
 * pod's command, shebang flags included).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WORKER_ENV } from '../../common/contract.js';
import { createJobCa } from '../../common/certs.js';
import { JOB_CA_KEY_FILE, TLS_FILES } from '../../common/tls-files.js';
import { TERMINATION_LOG_ENV } from '../../worker/cli/termination-message.js';
import { startDatTrain, type DatTrainRun } from './dat-train-process.js';
import { datCommand } from './paths.js';

async function canListen(port: number): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => srv.close(() => resolve()));
  return ok;
}

/**
 * A port prefix P such that ports P0 .. P(n-1) are free: the template
 * `127.0.0.1:P{rank}` then names every rank, as the operator's
 * `<job>-worker-{rank}.<svc>` names every pod.
 */
async function freePortPrefix(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = 2000 + Math.floor(Math.random() * 4000);
    let free = true;
    for (let rank = 0; rank < n && free; rank++) free = await canListen(prefix * 10 + rank);
    if (free) return prefix;
  }
  throw new Error(`no ${n} free ports found`);
}

/** A gang of pod-mode ranks in `dir`. */
export interface PodModeGang {
  readonly job: { readonly namespace: string; readonly name: string };
  readonly termLogs: readonly string[];
  /** Starts every rank with `args(rank)` and `env` on top of the gang's own variables, on fresh ports. */
  start(args: (rank: number) => readonly string[], env?: Record<string, string | undefined>): Promise<DatTrainRun[]>;
}

/** Prepares `n` ranks (TLS directory with the job CA, termination logs) under `dir` (n <= 10). */
export async function preparePodModeGang(dir: string, n: number, job = { namespace: 'team-a', name: 'mnist' }): Promise<PodModeGang> {
  const tlsDir = join(dir, 'ring-tls');
  await mkdir(tlsDir, { mode: 0o700, recursive: true });
  const ca = await createJobCa(job);
  await writeFile(join(tlsDir, TLS_FILES.ca), ca.certPem);
  await writeFile(join(tlsDir, JOB_CA_KEY_FILE), ca.keyPem, { mode: 0o600 });
  const termLogs = Array.from({ length: n }, (_, rank) => join(dir, `termination-log-${rank}`));
  return {
    job,
    termLogs,
    async start(args, env = {}) {
      const prefix = await freePortPrefix(n);
      // As the kubelet does, each start gets an empty termination log.
      for (const path of termLogs) await writeFile(path, '');
      return Array.from({ length: n }, (_, rank) =>
        startDatTrain(args(rank), {
          [WORKER_ENV.rank]: String(rank),
          [WORKER_ENV.worldSize]: String(n),
          [WORKER_ENV.peers]: undefined,
          [WORKER_ENV.peerTemplate]: `127.0.0.1:${prefix}{rank}`,
          [WORKER_ENV.ringBind]: '127.0.0.1',
          [WORKER_ENV.ringPort]: String(prefix * 10 + rank),
          [WORKER_ENV.jobName]: job.name,
          [WORKER_ENV.namespace]: job.namespace,
          [WORKER_ENV.tlsDir]: tlsDir,
          [TERMINATION_LOG_ENV]: termLogs[rank],
          ...env,
        }, { command: datCommand() }),
      );
    },
  };
}
