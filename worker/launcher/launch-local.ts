/**
 * `dat train --workers N` on one machine:
 *
 * 1. Pick N free ports on 127.0.0.1 for the ring servers.
 * 2. Start N child processes of this same CLI with WORKER_ENV set (each its own
 *    OS process and gRPC server, each reading its own shard) and `--progress json`;
 *    each gets its ring key over stdin (nothing on disk to outlive a SIGKILL).
 * 3. Merge their progress: rank 0's reports drive one display; children's log
 *    lines (stderr) are forwarded prefixed with their rank; a ring port is
 *    reported once the worker says it is bound.
 * 4. If a worker dies (non-zero exit or signal), stop all the others (SIGTERM,
 *    then SIGKILL for any that does not stop, e.g. a stopped one), wait for
 *    every child to exit (no orphans), and fail with a message naming the
 *    cause: the worker that failed first for a reason of its own, or the rank
 *    the survivors found unresponsive, with its last error line.
 *    SIGINT or SIGTERM to the launcher (a terminal's Ctrl-C reaches only the
 *    launcher: each worker has its own process group) stops the workers the
 *    same way; with `--checkpoint-dir` they get up to 30 s to save a
 *    checkpoint at the next step boundary, and a second signal kills them.
 * 5. On success print the final table from rank 0's metrics.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES, PERMANENT_EXIT_CODES, WORKER_ENV, type TrainOptions } from '../../common/contract.js';
import { formatFinalTable } from '../cli/final-table.js';
import { formatTrainArgs } from '../cli/format-args.js';
import { createProgressDisplay, parseProgressLine, resolveProgressMode } from '../cli/progress-display.js';
import type { RunMetrics } from '../train/metrics.js';
import { PARENT_WATCH_ENV } from '../distributed/worker-env.js';
import { parseLauncherEvent } from '../distributed/launcher-events.js';
import type { RingCredentials } from '../../common/certs.js';
import { INSECURE_RING_ENV, isInsecureRingRequested } from '../security/ring-security.js';
import { LOCAL_RING_JOB, TLS_STDIN_ENV, formatCredentialsLine, issueLocalRingTls } from '../security/local-ring-tls.js';
import { WORKER_NODE_FLAGS } from '../util/node-flags.js';
import { signalExitCode } from '../train/graceful-stop.js';

/** Ring servers of local workers listen here only. */
export const LOCAL_HOST = '127.0.0.1';
/** Grace between SIGTERM and SIGKILL when stopping the surviving workers. */
const STOP_GRACE_MS = 3_000;
/** The same when the user stopped the run and the workers save a checkpoint first (the kubelet's default grace). */
const SAVE_GRACE_MS = 30_000;
const METRICS_FILE = 'metrics.json';

/** How a worker ended. */
export interface WorkerExit {
  readonly rank: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The launcher signalled it while stopping the run: its end is a consequence, not a cause. */
  readonly stoppedByLauncher?: boolean;
}

/**
 * The worker that caused the run to fail, among all that failed: a permanent
 * failure (bad config or data) first, then any failure of its own other than
 * "a peer failed" (exit 3, what the survivors report), then the first to fail.
 * Workers the launcher killed while stopping the run are causes only when
 * nothing else is.
 */
export function rootFailure(failures: readonly WorkerExit[]): WorkerExit | undefined {
  const own = failures.filter((f) => f.stoppedByLauncher !== true);
  return (
    own.find((f) => f.code !== null && PERMANENT_EXIT_CODES.includes(f.code)) ??
    own.find((f) => f.code !== EXIT_CODES.peerFailure) ??
    own[0] ??
    failures[0]
  );
}

/** What a worker reported about a broken ring (see launcher-events.ts). */
export interface RingBlame {
  readonly reporter: number;
  readonly peerRank?: number;
  readonly failure: string;
  readonly reason: string;
}

/**
 * The rank the survivors found at fault when the root failure is only a peer
 * failure (exit 3): a peer named in a report of its own (an abort merely
 * relays another rank's report).
 */
export function blamedRank(root: WorkerExit, blames: readonly RingBlame[]): RingBlame | undefined {
  if (root.code !== EXIT_CODES.peerFailure) return undefined;
  return blames.find((b) => b.failure !== 'aborted' && b.peerRank !== undefined && b.peerRank !== b.reporter);
}

/** The `training failed: ...` sentence: the root failure, the blamed rank, and the worker's own last error. */
export function describeRunFailure(root: WorkerExit, blames: readonly RingBlame[], lastErrors: ReadonlyMap<number, string>): string {
  const blame = blamedRank(root, blames);
  if (blame !== undefined) return `worker rank ${blame.peerRank} stopped answering its peers (rank ${blame.reporter}: ${blame.reason})`;
  const detail = lastErrors.get(root.rank);
  return describeWorkerExit(root) + (detail !== undefined ? `: ${detail}` : '');
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

/** The argv prefix that runs this CLI again (compiled, or under tsx when running from source), with the workers' node flags. */
export function workerCommand(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSource ? '../main.ts' : '../main.js', import.meta.url));
  return [process.execPath, ...WORKER_NODE_FLAGS, ...(fromSource ? ['--import', 'tsx'] : []), main];
}

/**
 * Environment of worker `rank` (pure). With `tls` the ring uses mutual TLS as
 * in a pod, the credentials arriving on stdin; without it, plain text
 * (`DAT_INSECURE_RING=1`).
 */
export function buildWorkerEnv(rank: number, ports: readonly number[], base: NodeJS.ProcessEnv, tls = false): NodeJS.ProcessEnv {
  const security: NodeJS.ProcessEnv = tls
    ? { [TLS_STDIN_ENV]: '1', [WORKER_ENV.tlsDir]: undefined, [INSECURE_RING_ENV]: undefined }
    : { [INSECURE_RING_ENV]: '1', [TLS_STDIN_ENV]: undefined };
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

/** Where the launcher writes. */
export interface LauncherIo {
  readonly stdout: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown };
}

/** The `dat: error: ` prefix run-cli.ts gives a worker's fatal error line. */
const CHILD_ERROR_PREFIX = 'dat: error: ';

/** The running workers of one launch: spawning, what they report, stopping, and how they ended. */
class WorkerGroup {
  readonly exits: Array<Promise<WorkerExit>> = [];
  readonly failures: WorkerExit[] = [];
  readonly blames: RingBlame[] = [];
  readonly lastErrors = new Map<number, string>();
  firstFailure: WorkerExit | undefined;
  private readonly children: ChildProcess[] = [];
  private readonly signalled = new Set<number>();
  private stopping = false;

  constructor(
    private readonly logLine: (line: string) => void,
    private readonly onProgress: (rank: number, line: string) => void,
  ) {}

  spawn(rank: number, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, creds: RingCredentials | undefined): void {
    // Own process group: a terminal's Ctrl-C reaches the launcher alone, which stops the workers once.
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.children[rank] = child;
    // The key goes over the pipe, never to disk; the pipe then stays open as the launcher watch.
    if (creds !== undefined) child.stdin!.write(formatCredentialsLine(creds));
    child.stdin!.on('error', () => undefined);
    this.logLine(`dat: started worker rank ${rank} pid ${child.pid ?? '?'}`);
    // Step 3
    createInterface({ input: child.stdout! }).on('line', (line) => this.onStdout(rank, line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (line.startsWith(CHILD_ERROR_PREFIX)) this.lastErrors.set(rank, line.slice(CHILD_ERROR_PREFIX.length));
      this.logLine(`[rank ${rank}] ${line}`);
    });
    this.exits.push(this.watchExit(rank, child));
  }

  /** Step 4: SIGTERM every live worker, SIGKILL whatever has not exited after `graceMs`. */
  stopAll(graceMs = STOP_GRACE_MS): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const [rank, c] of this.children.entries()) {
      if (c === undefined || !isRunning(c)) continue;
      this.signalled.add(rank);
      c.kill('SIGTERM');
    }
    const timer = setTimeout(() => this.killAll(`did not stop within ${graceMs} ms of SIGTERM`), graceMs);
    timer.unref();
  }

  /** SIGKILLs every live worker, saying why. */
  killAll(why: string): void {
    for (const [rank, c] of this.children.entries()) {
      if (c === undefined || !isRunning(c)) continue;
      this.logLine(`dat: worker rank ${rank} ${why}; killing it with SIGKILL`);
      this.signalled.add(rank);
      c.kill('SIGKILL');
    }
  }

  /** Ends the launcher watch of every child (their stdin). */
  release(): void {
    for (const c of this.children) c?.stdin?.end();
  }

  private onStdout(rank: number, line: string): void {
    const event = parseLauncherEvent(line);
    if (event === undefined) this.onProgress(rank, line);
    else if ('ringListening' in event) this.logLine(`dat: worker rank ${rank} listening on ring port ${event.ringListening.port}`);
    else this.blames.push({ reporter: rank, ...event.ringFailure });
  }

  private async watchExit(rank: number, child: ChildProcess): Promise<WorkerExit> {
    const ended = await new Promise<WorkerExit>((resolve) => {
      child.once('error', (err) => {
        this.logLine(`dat: failed to start worker rank ${rank}: ${err.message}`);
        resolve({ rank, code: EXIT_CODES.failure, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ rank, code, signal }));
    });
    const e: WorkerExit = this.signalled.has(rank) ? { ...ended, stoppedByLauncher: true } : ended;
    if (e.code === 0 && e.signal === null) return e;
    this.failures.push(e);
    if (this.firstFailure === undefined) {
      this.firstFailure = e;
      this.logLine(`dat: ${describeWorkerExit(e)}; stopping the other workers`);
      this.stopAll();
    }
    return e;
  }
}

function isRunning(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Starts `opts.workers` worker processes on this machine and merges their progress; resolves to the exit code. */
export async function launchLocal(opts: TrainOptions, io: LauncherIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const n = opts.workers;
  // Step 1
  const ports = await pickFreePorts(n);
  const display = createProgressDisplay(opts.progress, io.stdout);
  const tty = resolveProgressMode(opts.progress, io.stdout) === 'tty';
  const logLine = (line: string): void => (tty ? display.log(line) : void io.stderr.write(line + '\n'));
  const [cmd, ...prefix] = workerCommand();
  const args = [...prefix, 'train', ...formatTrainArgs(opts, ['progress']), '--progress=json'];

  // Step 2: a CA and per-rank certificates for this run, unless the user asked for a plain-text ring.
  let creds: readonly RingCredentials[] | undefined;
  if (isInsecureRingRequested(process.env)) logLine(`dat: warning: ${INSECURE_RING_ENV} is set: the local ring runs without TLS`);
  else creds = await issueLocalRingTls(n);
  const group = new WorkerGroup(logLine, (rank, line) => {
    const parsed = parseProgressLine(line);
    if (parsed === undefined) return;
    if ('log' in parsed) logLine(`[rank ${rank}] ${parsed.log}`);
    else if (rank === 0) display.update({ ...parsed, workers: n });
  });
  const saving = opts.checkpointDir !== undefined;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      group.killAll(`was still running at a second ${sig}`);
      return;
    }
    interrupted = true;
    logLine(`dat: received ${sig}; stopping ${n} workers${saving ? `, each after a checkpoint at the next step boundary (${sig} again stops at once)` : ''}`);
    group.firstFailure ??= { rank: -1, code: null, signal: sig };
    group.stopAll(saving ? SAVE_GRACE_MS : STOP_GRACE_MS);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (let rank = 0; rank < n; rank++) group.spawn(rank, cmd!, args, buildWorkerEnv(rank, ports, process.env, creds !== undefined), creds?.[rank]);
    await Promise.all(group.exits);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display.finish();
    group.release();
  }
  const firstFailure = group.firstFailure;
  if (firstFailure !== undefined) {
    // An interruption of the launcher itself (rank -1) wins; otherwise name the worker that caused it.
    if (firstFailure.rank < 0) {
      if (saving && group.failures.length === n && group.failures.every((f) => f.code === EXIT_CODES.terminated)) {
        io.stderr.write(`dat: stopped by ${firstFailure.signal} after every worker saved a checkpoint in ${opts.checkpointDir}; rerun the same command to resume\n`);
        return signalExitCode(firstFailure.signal!);
      }
      io.stderr.write(`dat: error: training failed: interrupted by ${firstFailure.signal}\n`);
      return runExitCode(firstFailure);
    }
    const f = rootFailure(group.failures) ?? firstFailure;
    io.stderr.write(`dat: error: training failed: ${describeRunFailure(f, group.blames, group.lastErrors)}\n`);
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
