/**
 * `dat train --workers N` on one machine:
 *
 * 1. Pick N free ports on 127.0.0.1 for the ring servers.
 * 2. Start N child processes of this same CLI with WORKER_ENV set (each its own
 *    OS process and gRPC server, each reading its own shard) and `--progress json`.
 * 3. Merge their progress: rank 0's reports drive one display; children's log
 *    lines (stderr) are forwarded prefixed with their rank.
 * 4. If a worker dies (non-zero exit or signal), stop all the others, wait for
 *    every child to exit (no orphans), and fail with a message naming it.
 * 5. On success print the final table from rank 0's metrics.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES, PERMANENT_EXIT_CODES, WORKER_ENV, type TrainOptions } from '../contract.js';
import { formatFinalTable } from '../cli/final-table.js';
import { formatTrainArgs } from '../cli/format-args.js';
import { createProgressDisplay, parseProgressLine, resolveProgressMode } from '../cli/progress-display.js';
import type { RunMetrics } from '../train/metrics.js';
import { PARENT_WATCH_ENV } from '../distributed/worker-env.js';
import { INSECURE_RING_ENV, isInsecureRingRequested } from '../security/ring-security.js';
import { LOCAL_RING_JOB, prepareLocalRingTls, type LocalRingTls } from '../security/local-ring-tls.js';

/** Ring servers of local workers listen here only. */
export const LOCAL_HOST = '127.0.0.1';
/** Grace between SIGTERM and SIGKILL when stopping the surviving workers. */
const STOP_GRACE_MS = 3_000;
const METRICS_FILE = 'metrics.json';

/** How a worker ended. */
export interface WorkerExit {
  readonly rank: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * The worker that caused the run to fail, among all that failed: a permanent
 * failure (bad config or data) first, then any failure other than "a peer
 * failed" (exit 3, what the survivors report), then the first to fail.
 */
export function rootFailure(failures: readonly WorkerExit[]): WorkerExit | undefined {
  return (
    failures.find((f) => f.code !== null && PERMANENT_EXIT_CODES.includes(f.code)) ??
    failures.find((f) => f.code !== EXIT_CODES.peerFailure) ??
    failures[0]
  );
}

/** `worker rank 2 exited with code 3` / `worker rank 1 was killed by SIGKILL`. */
export function describeWorkerExit(e: WorkerExit): string {
  return e.signal !== null ? `worker rank ${e.rank} was killed by ${e.signal}` : `worker rank ${e.rank} exited with code ${e.code}`;
}

/** The exit code of the run given the first failed worker: permanent codes pass through, the rest is a peer failure. */
export function runExitCode(firstFailure: WorkerExit | undefined): number {
  if (firstFailure === undefined) return EXIT_CODES.success;
  if (firstFailure.code !== null && PERMANENT_EXIT_CODES.includes(firstFailure.code)) return firstFailure.code;
  return EXIT_CODES.peerFailure;
}

/** N distinct free TCP ports on `host` (bound then released; the children bind them right after). */
export async function pickFreePorts(n: number, host = LOCAL_HOST): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The argv prefix that runs this CLI again (compiled, or under tsx when running from source). */
function workerCommand(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSource ? '../main.ts' : '../main.js', import.meta.url));
  return [process.execPath, ...(fromSource ? ['--import', 'tsx'] : []), main];
}

/**
 * Environment of worker `rank` (pure). With `tlsDir` the ring uses mutual TLS
 * exactly as in a pod; without it, plain text (`DAT_INSECURE_RING=1`).
 */
export function buildWorkerEnv(rank: number, ports: readonly number[], base: NodeJS.ProcessEnv, tlsDir?: string): NodeJS.ProcessEnv {
  const security: NodeJS.ProcessEnv = tlsDir !== undefined ? { [WORKER_ENV.tlsDir]: tlsDir, [INSECURE_RING_ENV]: undefined } : { [INSECURE_RING_ENV]: '1' };
  return {
    ...base,
    [WORKER_ENV.rank]: String(rank),
    [WORKER_ENV.worldSize]: String(ports.length),
    [WORKER_ENV.peers]: ports.map((p) => `${LOCAL_HOST}:${p}`).join(','),
    [WORKER_ENV.ringBind]: LOCAL_HOST,
    [WORKER_ENV.ringPort]: String(ports[rank]),
    [WORKER_ENV.jobName]: LOCAL_RING_JOB.name,
    [WORKER_ENV.restartCount]: '0',
    [PARENT_WATCH_ENV]: 'stdin',
    ...security,
  };
}

/** Starts `opts.workers` worker processes on this machine and merges their progress; resolves to the exit code. */
export async function launchLocal(opts: TrainOptions, io: { stdout: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean }; stderr: { write(s: string): unknown } } = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const n = opts.workers;
  // Step 1
  const ports = await pickFreePorts(n);
  const display = createProgressDisplay(opts.progress, io.stdout);
  const tty = resolveProgressMode(opts.progress, io.stdout) === 'tty';
  const logLine = (line: string): void => (tty ? display.log(line) : void io.stderr.write(line + '\n'));
  const [cmd, ...prefix] = workerCommand();
  const args = [...prefix, 'train', ...formatTrainArgs(opts, ['progress']), '--progress=json'];

  // Step 2: a CA and per-rank certificates for this run, unless the user asked for a plain-text ring.
  let tls: LocalRingTls | undefined;
  if (isInsecureRingRequested(process.env)) logLine(`dat: warning: ${INSECURE_RING_ENV} is set: the local ring runs without TLS`);
  else tls = await prepareLocalRingTls(n);
  const children: ChildProcess[] = [];
  const exits: Array<Promise<WorkerExit>> = [];
  let firstFailure: WorkerExit | undefined;
  const failures: WorkerExit[] = [];
  let stopping = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, STOP_GRACE_MS);
    timer.unref();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    logLine(`dat: received ${sig}; stopping ${n} workers`);
    firstFailure ??= { rank: -1, code: null, signal: sig };
    stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (let rank = 0; rank < n; rank++) {
      const child = spawn(cmd!, args, { env: buildWorkerEnv(rank, ports, process.env, tls?.dirFor(rank)), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      logLine(`dat: started worker rank ${rank} pid ${child.pid ?? '?'} ring port ${ports[rank]}`);
      // Step 3
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const parsed = parseProgressLine(line);
        if (parsed === undefined) return;
        if ('log' in parsed) logLine(`[rank ${rank}] ${parsed.log}`);
        else if (rank === 0) display.update({ ...parsed, workers: n });
      });
      createInterface({ input: child.stderr! }).on('line', (line) => logLine(`[rank ${rank}] ${line}`));
      exits.push(
        new Promise<WorkerExit>((resolve) => {
          child.once('error', (err) => {
            logLine(`dat: failed to start worker rank ${rank}: ${err.message}`);
            resolve({ rank, code: EXIT_CODES.failure, signal: null });
          });
          child.once('exit', (code, signal) => resolve({ rank, code, signal }));
        }).then((e) => {
          // Step 4
          if (e.code !== 0 || e.signal !== null) failures.push(e);
          if ((e.code !== 0 || e.signal !== null) && firstFailure === undefined) {
            firstFailure = e;
            logLine(`dat: ${describeWorkerExit(e)}; stopping the other workers`);
            stopAll();
          }
          return e;
        }),
      );
    }
    await Promise.all(exits);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display.finish();
    for (const c of children) c.stdin?.end();
    // Every child has exited (or never started): the keys are no longer needed.
    await tls?.cleanup();
  }
  if (firstFailure !== undefined) {
    // An interruption of the launcher itself (rank -1) wins; otherwise name the worker that caused it.
    const f: WorkerExit = firstFailure.rank < 0 ? firstFailure : (rootFailure(failures) ?? firstFailure);
    io.stderr.write(`dat: error: training failed: ${f.rank >= 0 ? describeWorkerExit(f) : `interrupted by ${f.signal}`}\n`);
    return runExitCode(f);
  }
  // Step 5
  if (opts.progress !== 'json' && opts.progress !== 'none') {
    try {
      const metrics = JSON.parse(await readFile(join(opts.output, METRICS_FILE), 'utf8')) as RunMetrics;
      io.stdout.write('\n' + formatFinalTable(metrics) + '\n');
      const perStep = metrics.bytesSentPerStepPerRank;
      io.stdout.write(`compression ${metrics.compression ?? opts.compression}${perStep !== undefined ? `, ${(perStep / 1024).toFixed(1)} KiB sent per step per rank` : ''}\n`);
    } catch (err) {
      io.stderr.write(`dat: warning: could not read ${join(opts.output, METRICS_FILE)}: ${(err as Error).message}\n`);
    }
  }
  return EXIT_CODES.success;
}
