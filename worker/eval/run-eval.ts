/**
 * `dat eval` end to end:
 *
 * 1. Pick the backend (native TensorFlow when installed, as `dat train` does).
 * 2. Load the model and the test split; check they fit each other.
 * 3. Evaluate: in this process, or with --workers N as N child processes of
 *    this CLI, each attacking its batches (evaluate-shard.ts) and writing its
 *    per-example outcome to a file the parent merges.
 * 4. Print the table and write <out>/eval.json.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type * as tf from '@tensorflow/tfjs';
import { EXIT_CODES } from '../../common/contract.js';
import { selectBackend } from '../backend/select-backend.js';
import { createProgressDisplay, parseProgressLine, type DisplayProgress, type ProgressDisplay } from '../cli/progress-display.js';
import { workerCommand } from '../launcher/launch-local.js';
import type { Dataset } from '../data/types.js';
import { DatError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { buildEvalReport, formatEvalTable, mergeShards, type EvalReport } from './eval-report.js';
import { formatEvalArgs, type EvalOptions } from './eval-options.js';
import { evaluateShard, type ShardOutcome, type ShardPlan, type ShardProgress } from './evaluate-shard.js';
import { checkModelFitsData, endsInSoftmax, loadEvalDataset, loadEvalModel } from './load-eval-inputs.js';

/** Environment a sharding child runs under: `rank/world` and the file to write its outcome to. */
export const EVAL_SHARD_ENV = { shard: 'DAT_EVAL_SHARD', file: 'DAT_EVAL_SHARD_FILE' } as const;

/** stderr lines of a failed child quoted in the error. */
const STDERR_TAIL = 3;

/** The result of an evaluation: eval.json's contents plus the seconds per attack (slowest shard). */
export interface EvalRun {
  readonly report: EvalReport;
  readonly seconds: readonly number[];
}

/** Where a CLI run writes. */
export interface EvalIo {
  readonly stdout: { write(s: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly log: Logger;
}

function planFor(o: EvalOptions, data: Dataset, rank: number, worldSize: number): ShardPlan {
  const nExamples = Math.min(o.nExamples ?? data.test.n, data.test.n);
  return { attacks: o.attacks, eps: o.eps, seed: o.seed, batchSize: o.batchSize, nExamples, rank, worldSize, inputShape: data.inputShape };
}

function toDisplay(p: ShardProgress, workers?: number): DisplayProgress {
  return {
    phase: 'training',
    label: `eval: ${p.attack}`,
    epoch: 0,
    totalEpochs: 0,
    step: p.done,
    totalSteps: p.total,
    lastHeartbeat: new Date().toISOString(),
    ...(workers !== undefined ? { workers } : {}),
    ...(p.detail !== undefined ? { extra: p.detail } : {}),
  };
}

/** Steps 2-3 in this process for shard (rank, worldSize). */
async function evaluateHere(o: EvalOptions, rank: number, worldSize: number, display: ProgressDisplay, log: Logger): Promise<{ data: Dataset; outcome: ShardOutcome }> {
  // Step 2
  const model: tf.LayersModel = await loadEvalModel(o.model);
  if (rank === 0 && endsInSoftmax(model)) {
    log.warn('The model ends in a softmax: the attacks assume logits, so the robust accuracy is likely overstated; evaluate the model without its final softmax', { model: o.model });
  }
  try {
    const data = await loadEvalDataset(o.dataset, o.dataDir, log);
    checkModelFitsData(model, o.model, data);
    // Step 3
    const outcome = await evaluateShard(model, data.test, planFor(o, data, rank, worldSize), (p) => display.update(toDisplay(p)));
    return { data, outcome };
  } finally {
    model.dispose();
  }
}

/** Step 3 over N child processes; returns their merged outcome. */
async function evaluateSharded(o: EvalOptions, display: ProgressDisplay, log: Logger): Promise<ShardOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'dat-eval-'));
  try {
    const [cmd, ...prefix] = workerCommand();
    const args = [...prefix, 'eval', ...formatEvalArgs({ ...o, workers: 1, out: undefined, progress: 'json' })];
    const latest = new Map<number, DisplayProgress>();
    // A child's last stderr lines explain its failure; its routine logs would only repeat the parent's.
    const lastErr: string[][] = Array.from({ length: o.workers }, () => []);
    const codes = await Promise.all(
      Array.from({ length: o.workers }, (_, rank) => {
        const env = { ...process.env, [EVAL_SHARD_ENV.shard]: `${rank}/${o.workers}`, [EVAL_SHARD_ENV.file]: join(dir, `shard-${rank}.json`) };
        const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        createInterface({ input: child.stdout }).on('line', (line) => {
          const p = parseProgressLine(line);
          if (p === undefined || !('phase' in p)) return;
          latest.set(rank, p);
          const all = [...latest.values()];
          display.update({ ...p, step: all.reduce((s, q) => s + q.step, 0), totalSteps: all.reduce((s, q) => s + q.totalSteps, 0), workers: o.workers });
        });
        createInterface({ input: child.stderr }).on('line', (line) => {
          lastErr[rank]!.push(line);
          if (lastErr[rank]!.length > STDERR_TAIL) lastErr[rank]!.shift();
        });
        return new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
      }),
    );
    const failed = codes.findIndex((c) => c !== 0);
    if (failed >= 0) {
      const tail = lastErr[failed]!.join(' | ');
      throw Object.assign(new DatError(`dat eval worker ${failed} of ${o.workers} exited with code ${codes[failed]}: ${tail}`, { retryable: true }), { exitCode: codes[failed] });
    }
    log.info('Merged dat eval shards', { workers: o.workers });
    const shards = await Promise.all(codes.map(async (_, r) => JSON.parse(await readFile(join(dir, `shard-${r}.json`), 'utf8')) as ShardOutcome));
    return mergeShards(shards);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Evaluates `o` (steps 1-3) and builds the report; writes nothing. */
export async function runEvaluation(o: EvalOptions, display: ProgressDisplay, log: Logger): Promise<EvalRun> {
  // Step 1
  await selectBackend(o.backend, log);
  if (o.workers > 1) {
    // The parent only needs the dataset's name and the checks; the children attack.
    const model = await loadEvalModel(o.model);
    const data = await loadEvalDataset(o.dataset, o.dataDir, log);
    checkModelFitsData(model, o.model, data);
    model.dispose();
    const merged = await evaluateSharded(o, display, log);
    return { report: buildEvalReport(o, data.name, merged), seconds: merged.seconds };
  }
  const { data, outcome } = await evaluateHere(o, 0, 1, display, log);
  return { report: buildEvalReport(o, data.name, outcome), seconds: outcome.seconds };
}

/** `dat eval` as a sharding child: evaluate shard rank/world and write the outcome file. */
async function runShardChild(o: EvalOptions, spec: string, file: string, io: EvalIo): Promise<number> {
  const [rank, world] = spec.split('/').map(Number) as [number, number];
  await selectBackend(o.backend, io.log);
  const display = createProgressDisplay('json', io.stdout);
  const { outcome } = await evaluateHere(o, rank, world, display, io.log);
  await writeFile(file, JSON.stringify(outcome));
  return EXIT_CODES.success;
}

/** Runs `dat eval` (steps 1-4); resolves to the exit code, throws typed errors. */
export async function runEvalCommand(o: EvalOptions, env: NodeJS.ProcessEnv, io: EvalIo): Promise<number> {
  const shard = env[EVAL_SHARD_ENV.shard];
  const file = env[EVAL_SHARD_ENV.file];
  if (shard !== undefined && file !== undefined) return runShardChild(o, shard, file, io);
  const display = createProgressDisplay(o.progress, io.stdout);
  let run: EvalRun;
  try {
    run = await runEvaluation(o, display, io.log);
  } finally {
    display.finish();
  }
  // Step 4
  if (o.progress !== 'json') io.stdout.write('\n' + formatEvalTable(run.report, run.seconds) + '\n');
  if (o.out !== undefined) {
    await mkdir(o.out, { recursive: true });
    await writeFile(join(o.out, 'eval.json'), JSON.stringify(run.report, null, 2) + '\n');
  }
  return EXIT_CODES.success;
}
