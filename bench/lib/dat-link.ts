/**
 * `bench:dat --link 1gbit`: DAT end to end on an emulated link. Four
 * `dat train` worker processes (the real gRPC ring, plain text) each run in
 * their own network namespace, joined by tbf-shaped veths (netns-link.ts),
 * once per compression, with the same data, epochs and seed.
 *
 * Per variant:
 * 1. Build the namespaces and links (a fresh set per variant, so no queue or
 *    socket state carries over).
 * 2. Start the workers as the local launcher would (WORKER_ENV), but with
 *    each ring server bound to its host's address inside its namespace.
 * 3. Wait for every worker; a failure stops the others and fails the bench.
 * 4. Read rank 0's metrics.json: time per epoch (training only, from the
 *    time split, and the epoch records' wall time), clean and PGD-20
 *    accuracy, bytes per step, all-reduce seconds.
 * 5. Tear the links down (also on failure, exit and signals).
 *
 * Then the table, the targets (sign-ef >= 3x faster per epoch than none, and
 * within 2 points of its robust accuracy) and bench/results/dat-link.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { COMPRESSIONS, DEFAULT_RING_PORT, WORKER_ENV, type CompressionId } from '../../common/contract.js';
import { getErrorMessage } from '../../common/errors.js';
import type { RunMetrics } from '../../worker/train/metrics.js';
import { PARENT_WATCH_ENV } from '../../worker/distributed/worker-env.js';
import { INSECURE_RING_ENV } from '../../worker/security/ring-security.js';
import { buildNetnsExec, createEmulatedLinks, parseRate, type LinkPlan } from './netns-link.js';
import { printTable, writeResult } from './report.js';

/** The setup: 4 workers. */
export const DAT_LINK_WORKERS = 4;
/** The targets. */
export const DAT_LINK_TARGET = { signEfSpeedupOverNone: 3, maxRobustDrop: 0.02 } as const;
/** Variants, in the order they run. */
export const DAT_LINK_VARIANTS: readonly CompressionId[] = COMPRESSIONS;

/**
 * What every variant trains (full run). Chosen so that 4 workers x 5 variants
 * fit about twenty minutes on the project's 2 shared cores (about 5 s per
 * step there): 1,024 MNIST digits (256 per worker), per-worker batch 16
 * (global 64, 16 steps per epoch), 2 epochs, PGD-3 training at eps 0.3
 * (ramped up over the first epoch), PGD-20 evaluation on 300 held-out
 * digits. Compression starts after 8 uncompressed steps (half an epoch):
 * the default 50 would leave sign-ef never compressing.
 * This measures time per epoch; 32 steps are far too few for the
 * accuracies to say much (see docs/emulated-links.md).
 */
export const DAT_LINK_COMMON_FULL: readonly string[] = [
  '--dataset', 'mnist', '--model', 'madry-cnn', '--attack', 'pgd', '--eps', '0.3', '--attack-steps', '3',
  '--limit', '1024', '--epochs', '2', '--batch-size', '16', '--eval-size', '300', '--eval-attack-steps', '20',
  '--eps-warmup-epochs', '1', '--compression-warmup-steps', '8', '--seed', '1',
];
/** `--quick`: a smoke test of the pipeline (256 digits, 1 epoch, PGD-2, PGD-5 on 64 images), not of speed or accuracy. */
export const DAT_LINK_COMMON_QUICK: readonly string[] = [
  '--dataset', 'mnist', '--model', 'madry-cnn', '--attack', 'pgd', '--eps', '0.3', '--attack-steps', '2',
  '--limit', '256', '--epochs', '1', '--batch-size', '16', '--eval-size', '64', '--eval-attack-steps', '5',
  '--compression-warmup-steps', '1', '--seed', '1',
];

/** Deadline of each ring call: an uncompressed madry-cnn gradient takes well under a second at 1 Gbit/s, but the cores are shared. */
const COLLECTIVE_TIMEOUT_MS = 300_000;

/** The worker environment of `rank` on `plan` (pure): the launcher's, with the ring on the namespace addresses. */
export function buildLinkWorkerEnv(plan: LinkPlan, rank: number, base: NodeJS.ProcessEnv, port = DEFAULT_RING_PORT): NodeJS.ProcessEnv {
  const host = plan.hosts[rank];
  if (host === undefined) throw new RangeError(`no host ${rank} in a plan of ${plan.hosts.length}`);
  return {
    ...base,
    [WORKER_ENV.rank]: String(rank),
    [WORKER_ENV.worldSize]: String(plan.hosts.length),
    [WORKER_ENV.peers]: plan.hosts.map((h) => `${h.address}:${port}`).join(','),
    [WORKER_ENV.ringBind]: host.address,
    [WORKER_ENV.ringPort]: String(port),
    [WORKER_ENV.jobName]: 'bench-dat-link',
    [WORKER_ENV.restartCount]: '0',
    // Workers exit when their stdin closes, so none outlives the bench.
    [PARENT_WATCH_ENV]: 'stdin',
    [INSECURE_RING_ENV]: '1',
  };
}

/** One row of the table. */
export interface DatLinkRow {
  readonly compression: CompressionId;
  readonly clean: number;
  readonly robust: number;
  /** Training seconds per epoch (attack, gradient, all-reduce, update; no evaluation), rank 0. */
  readonly trainSecondsPerEpoch: number;
  /** Wall seconds per epoch from the epoch records (includes any per-epoch evaluation). */
  readonly epochSeconds: readonly number[];
  /** All-reduce seconds per epoch (rank 0's time split). */
  readonly allreduceSecondsPerEpoch: number;
  readonly bytesPerStep: number | undefined;
  readonly wallSeconds: number;
}

/** The row of one variant from rank 0's metrics.json (pure). */
export function buildDatLinkRow(compression: CompressionId, m: RunMetrics, wallSeconds: number): DatLinkRow {
  const epochs = Math.max(1, m.epochsCompleted);
  const s = m.timeSplit;
  const train = s === undefined ? m.history.reduce((a, h) => a + h.seconds, 0) : s.attackSeconds + s.gradientSeconds + s.allreduceSeconds + s.updateSeconds;
  return {
    compression,
    clean: m.cleanAccuracy,
    robust: m.robustAccuracy,
    trainSecondsPerEpoch: train / epochs,
    epochSeconds: m.history.map((h) => h.seconds),
    allreduceSecondsPerEpoch: (s?.allreduceSeconds ?? 0) / epochs,
    bytesPerStep: m.bytesSentPerStepPerRank,
    wallSeconds,
  };
}

/** The targets against the none row (pure); undefined where a row is missing. */
export function checkDatLinkTargets(rows: readonly DatLinkRow[]): { speedup?: number; speedupMet?: boolean; robustDrop?: number; robustMet?: boolean } {
  const none = rows.find((r) => r.compression === 'none');
  const sign = rows.find((r) => r.compression === 'sign-ef');
  if (none === undefined || sign === undefined) return {};
  const speedup = none.trainSecondsPerEpoch / sign.trainSecondsPerEpoch;
  const robustDrop = none.robust - sign.robust;
  return { speedup, speedupMet: speedup >= DAT_LINK_TARGET.signEfSpeedupOverNone, robustDrop, robustMet: robustDrop <= DAT_LINK_TARGET.maxRobustDrop };
}

/** Steps 2 and 3: the workers of one variant, inside the namespaces of `plan`; resolves when all exited 0. */
async function runWorkers(plan: LinkPlan, cmd: readonly string[], args: readonly string[]): Promise<void> {
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', stopAll);
  try {
    const exits = plan.hosts.map((_, rank) => {
      const argv = buildNetnsExec(plan, rank, [...cmd, 'train', ...args, '--progress', 'json']);
      const child = spawn(argv[0]!, argv.slice(1), { env: buildLinkWorkerEnv(plan, rank, process.env), stdio: ['pipe', 'ignore', 'pipe'] });
      children.push(child);
      createInterface({ input: child.stderr! }).on('line', (l) => void process.stderr.write(`[rank ${rank}] ${l}\n`));
      return new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`worker rank ${rank} exited with ${signal ?? code}`))));
      });
    });
    // The first failure stops the others (they would wait for the dead rank until the deadline).
    await Promise.all(exits.map((p) => p.catch((err: unknown) => { stopAll(); throw err; })));
  } finally {
    process.off('exit', stopAll);
    for (const c of children) c.stdin?.end();
    stopAll();
  }
}

/** Steps 1 to 5 for one compression. */
async function runVariant(rate: string, compression: CompressionId, cmd: readonly string[], common: readonly string[], extra: readonly string[]): Promise<DatLinkRow> {
  const out = await mkdtemp(join(tmpdir(), 'bench-dat-link-'));
  const args = [...common, '--compression', compression, '--collective-timeout-ms', String(COLLECTIVE_TIMEOUT_MS), ...extra, '--output', out];
  const links = createEmulatedLinks({ hosts: DAT_LINK_WORKERS, rate });
  const t0 = Date.now();
  try {
    await runWorkers(links.plan, cmd, args);
  } finally {
    links.close();
  }
  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
  return buildDatLinkRow(compression, metrics, (Date.now() - t0) / 1000);
}

/** The whole `bench:dat --link RATE` run; `cmd` runs the dat CLI. */
export async function runDatLinkBench(argv: readonly string[], cmd: readonly string[]): Promise<void> {
  const rate = argv[argv.indexOf('--link') + 1] ?? '';
  parseRate(rate);
  const quick = argv.includes('--quick') || process.env.DAT_BENCH_QUICK === '1';
  const dash = argv.indexOf('--');
  const extra = dash >= 0 ? argv.slice(dash + 1) : [];
  const common = quick ? DAT_LINK_COMMON_QUICK : DAT_LINK_COMMON_FULL;
  const rows: DatLinkRow[] = [];
  // A failed variant is reported with its reason; the others still run and are written.
  const failed: Array<{ compression: CompressionId; error: string }> = [];
  for (const compression of DAT_LINK_VARIANTS) {
    process.stderr.write(`\n=== ${DAT_LINK_WORKERS} workers on ${rate}, compression ${compression} ===\n`);
    try {
      rows.push(await runVariant(rate, compression, cmd, common, extra));
    } catch (err) {
      failed.push({ compression, error: getErrorMessage(err) });
      process.stderr.write(`Failed variant compression=${compression}: ${getErrorMessage(err)}\n`);
    }
  }
  const targets = checkDatLinkTargets(rows);
  const none = rows.find((r) => r.compression === 'none');
  printTable(
    `DAT, ${DAT_LINK_WORKERS} workers on ${rate} links, MNIST madry-cnn, PGD eps 0.3 (${quick ? 'quick smoke run' : 'full'}); robust = PGD-${quick ? 5 : 20}`,
    ['compression', 'train s/epoch', 'all-reduce s/epoch', 'none / this', 'clean %', 'robust %', 'robust drop (pts)', 'KiB/step/rank', 'wall s'],
    rows.map((r) => [
      r.compression, r.trainSecondsPerEpoch, r.allreduceSecondsPerEpoch, none === undefined ? undefined : (none.trainSecondsPerEpoch / r.trainSecondsPerEpoch).toFixed(2),
      100 * r.clean, 100 * r.robust, none === undefined ? undefined : 100 * (none.robust - r.robust), r.bytesPerStep === undefined ? undefined : r.bytesPerStep / 1024, r.wallSeconds,
    ]),
  );
  for (const f of failed) process.stdout.write(`${f.compression}: FAILED (${f.error})\n`);
  const fmt = (met: boolean | undefined): string => (met === undefined ? 'not measured' : met ? 'met' : 'NOT met');
  process.stdout.write(`\nTargets: sign-ef ${targets.speedup?.toFixed(2) ?? '?'}x faster per epoch than none (>= ${DAT_LINK_TARGET.signEfSpeedupOverNone}x): ${fmt(targets.speedupMet)}; ` +
    `robust drop ${targets.robustDrop === undefined ? '?' : (100 * targets.robustDrop).toFixed(1)} pts (<= ${100 * DAT_LINK_TARGET.maxRobustDrop}): ${fmt(targets.robustMet)}\n`);
  const load = loadavg();
  process.stdout.write(`Machine load average at the end: ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  const path = await writeResult('dat-link', { quick, link: rate, workers: DAT_LINK_WORKERS, common: [...common, ...extra], rows, failed, targets, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
  if (failed.length > 0) throw new Error(`${failed.length} of ${DAT_LINK_VARIANTS.length} variants failed: ${failed.map((f) => f.compression).join(', ')}`);
}
