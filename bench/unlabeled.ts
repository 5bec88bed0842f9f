/**
 * `npm run bench:unlabeled`: does extra unlabelled data help adversarial
 * training here? Robust self-training (Carmon et al. 2019, "Unlabeled Data
 * Improves Adversarial Robustness", NeurIPS) on Fashion-MNIST, eps 0.1:
 *
 * - `labelled`: the first 10,000 training images (`--limit 10000`);
 * - `+unlabelled`: the same 10,000 plus the other 50,000 training images
 *   with their labels never read (`--unlabeled-data fashion-mnist`), labelled
 *   by a teacher (standard training on the 10,000) and mixed into every
 *   batch at `--unlabeled-ratio 0.5`.
 *
 * - `labelled, same steps`: the control. It uses the 10,000 labelled images
 *   again, for twice the epochs, with the warm-ups doubled too, so it takes
 *   the same optimizer steps on the same schedule as `+unlabelled`.
 *
 * Same model, batch size and optimizer. An epoch is one pass over the
 * labelled images, so `+unlabelled`, with half of each batch from the pool,
 * takes twice the optimizer steps of `labelled`. The control tells a gain
 * from the extra data apart from a gain from the extra steps.
 *
 * 1. Parse the configuration: the defaults below, then any `dat train`
 *    option given on the command line (it wins, for both variants).
 * 2. Train each variant in this process exactly as `dat train` does.
 * 3. Evaluate each saved model with `dat eval`'s code on the same first
 *    DAT_BENCH_AA_EXAMPLES images of the fixed 10,000 held-out ones
 *    (default 1,000; 100 with --quick): clean, PGD-20 and AutoAttack.
 * 4. Print the table; write bench/results/unlabeled.json (not with --quick).
 *
 * `--quick` (or DAT_BENCH_QUICK=1): 1,024 labelled images, one epoch, 200
 * held-out images, 100 for AutoAttack: a smoke run that writes nothing.
 * `--variant NAME` (repeatable) runs only the named variants; such a partial
 * run prints its table and writes nothing either.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../worker/backend/select-backend.js';
import { stepEngineChooser } from '../worker/backend/compile-step.js';
import { parseTrainArgs } from '../worker/cli/parse-args.js';
import { createProgressDisplay, type ProgressDisplay } from '../worker/cli/progress-display.js';
import { runTraining, singleProcessContext } from '../worker/train/run-training.js';
import type { RunMetrics } from '../worker/train/metrics.js';
import { splitBatch } from '../worker/train/unlabeled/mixed-batch.js';
import { parseEvalArgs } from '../worker/eval/eval-options.js';
import { runEvaluation, type EvalRun } from '../worker/eval/run-eval.js';
import type { TrainOptions } from '../common/contract.js';
import { getErrorMessage } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { printTable, writeResult } from './lib/report.js';

const EPS = 0.1;
const LABELLED = 10_000;

/**
 * Shared training configuration. The small CNN (~166k weights) rather than
 * madry-cnn (3.27M): measured here, madry-cnn trains at about 220 PGD-10
 * images/s against about 1,400 for the small CNN, so 20 epochs of the
 * `+unlabelled` run (400,000 images) would take half an hour, past the
 * 15-minute budget of a run. PGD-10 at step 2.5*eps/10 with DAT's
 * adv + clean loss, LAMB at lr 0.03 and batch 256 with cosine decay (the
 * bench:accuracy configuration), and the teacher trained for 10 epochs.
 */
const BENCH_ARGS = [
  '--dataset', 'fashion-mnist',
  '--limit', String(LABELLED),
  '--model', 'small-cnn',
  '--attack', 'pgd',
  '--eps', String(EPS),
  '--attack-steps', '10',
  '--loss', 'adv-clean',
  '--optimizer', 'lamb',
  '--lr', '0.03',
  '--schedule', 'cosine',
  '--warmup-epochs', '1',
  '--eps-warmup-epochs', '3',
  '--epochs', '20',
  '--batch-size', '256',
  '--teacher-epochs', '10',
  '--eval-every', '5',
  '--eval-attack-steps', '20',
  '--eval-size', '1000',
  '--backend', 'auto',
  '--progress', 'plain',
];
const QUICK_ARGS = ['--limit', '1024', '--epochs', '1', '--teacher-epochs', '1', '--eval-size', '200', '--warmup-epochs', '0', '--eps-warmup-epochs', '0'];

/** The variants: what each adds to the shared arguments (`base`: those options parsed). */
const VARIANTS: readonly { readonly name: string; readonly args: (base: TrainOptions) => string[] }[] = [
  { name: 'labelled', args: () => [] },
  { name: '+unlabelled', args: () => ['--unlabeled-data', 'fashion-mnist', '--unlabeled-ratio', '0.5'] },
  {
    name: 'labelled, same steps',
    args: (b) => ['--epochs', String(2 * b.epochs), '--warmup-epochs', String(2 * b.warmupEpochs), '--eps-warmup-epochs', String(2 * (b.epsWarmupEpochs ?? 0))],
  },
];

/** Held-out images PGD-20 and AutoAttack evaluate (see Step 3). */
const AA_EXAMPLES = { full: 1000, quick: 100 } as const;

/** What one variant measured. */
interface VariantResult {
  readonly name: string;
  readonly options: TrainOptions;
  readonly steps: number;
  readonly trainSeconds: number;
  readonly metrics: RunMetrics;
  readonly nExamples: number;
  readonly cleanAccuracy: number;
  readonly pgd20RobustAccuracy: number;
  readonly autoAttackRobustAccuracy: number;
  readonly autoAttackPerAttack: EvalRun['report']['perAttack'];
  readonly evalSeconds: number;
}

/** Step 3: one `dat eval` run of `attacks` on the first `n` held-out images. */
function evalSubset(modelDir: string, attacks: string, n: number, display: ProgressDisplay, log: Logger): Promise<EvalRun> {
  const o = parseEvalArgs(['--model', modelDir, '--dataset', 'fashion-mnist', '--eps', String(EPS), '--attacks', attacks, '--n-examples', String(n), '--backend', 'auto']);
  return runEvaluation(o, display, log);
}

/** Optimizer steps the run took: an epoch is one pass over the labelled images at their share of each batch. */
function optimizerSteps(opts: TrainOptions, metrics: RunMetrics): number {
  const labeledBatch = opts.unlabeledData === undefined ? opts.batchSize : splitBatch(opts.batchSize, opts.unlabeledRatio).labeled;
  return Math.floor(metrics.trainExamples / labeledBatch) * metrics.epochsCompleted;
}

/** Steps 2-3 for one variant. */
async function runVariant(name: string, opts: TrainOptions, aaN: number, log: Logger): Promise<VariantResult> {
  const display = createProgressDisplay(opts.progress, process.stdout);
  const t0 = performance.now();
  // Step 2
  const { metrics, modelDir } = await runTraining(opts, singleProcessContext(log, (await selectBackend(opts.backend, log)).name, (p) => display.update(p), stepEngineChooser(log)));
  const trainSeconds = (performance.now() - t0) / 1000;
  // Step 3
  const e0 = performance.now();
  const pgd = await evalSubset(modelDir!, 'pgd', aaN, display, log);
  const aa = await evalSubset(modelDir!, 'autoattack', aaN, display, log);
  display.finish();
  return {
    name,
    options: opts,
    steps: optimizerSteps(opts, metrics),
    trainSeconds,
    metrics,
    nExamples: aa.report.nExamples,
    cleanAccuracy: aa.report.cleanAccuracy,
    pgd20RobustAccuracy: pgd.report.robustAccuracy,
    autoAttackRobustAccuracy: aa.report.robustAccuracy,
    autoAttackPerAttack: aa.report.perAttack,
    evalSeconds: (performance.now() - e0) / 1000,
  };
}

/** The bench's own flags (`--quick`, `--variant NAME`) apart from the `dat train` options. */
function splitBenchArgs(argv: readonly string[]): { userArgs: string[]; only: string[] } {
  const userArgs: string[] = [];
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') continue;
    if (argv[i] === '--variant') only.push(argv[++i] ?? '');
    else userArgs.push(argv[i]!);
  }
  return { userArgs, only };
}

async function main(): Promise<void> {
  // Step 1
  const { userArgs, only } = splitBenchArgs(process.argv.slice(2));
  const quick = process.argv.includes('--quick') || process.env.DAT_BENCH_QUICK === '1';
  const aaN = Number(process.env.DAT_BENCH_AA_EXAMPLES ?? (quick ? AA_EXAMPLES.quick : AA_EXAMPLES.full));
  const log = createLogger({});
  const results: VariantResult[] = [];
  const shared = [...BENCH_ARGS, ...(quick ? QUICK_ARGS : []), ...userArgs];
  const base = parseTrainArgs(shared);
  const unknown = only.filter((n) => !VARIANTS.some((v) => v.name === n));
  if (unknown.length > 0) throw new Error(`unknown --variant ${unknown.join(', ')}: expected ${VARIANTS.map((v) => v.name).join(', ')}`);
  for (const v of VARIANTS.filter((x) => only.length === 0 || only.includes(x.name))) {
    const opts = parseTrainArgs([...shared, ...v.args(base), '--output', join(tmpdir(), `dat-bench-unlabeled-${v.name.replace(/\W/g, '')}`)]);
    results.push(await runVariant(v.name, opts, aaN, log));
  }
  // Step 4
  const first = results[0]!;
  printTable(
    `Fashion-MNIST, eps ${EPS}, ${first.options.model}; accuracies on the first ${first.nExamples} fixed held-out images`,
    ['variant', 'labelled', 'unlabelled', 'epochs', 'steps', 'train s', 'clean %', 'PGD-20 %', 'AutoAttack %', 'eval s'],
    results.map((r) => [
      r.name,
      String(r.metrics.trainExamples),
      r.options.unlabeledData === undefined ? '0' : 'rest of train',
      String(r.options.epochs),
      String(r.steps),
      r.trainSeconds,
      100 * r.cleanAccuracy,
      100 * r.pgd20RobustAccuracy,
      100 * r.autoAttackRobustAccuracy,
      r.evalSeconds,
    ]),
    2,
  );
  if (only.length > 0 || quick) {
    process.stdout.write(`${quick ? 'Quick' : 'Partial'} run: no result written (bench/results/unlabeled.json holds the last full run)\n`);
    if (only.length > 0) return;
  }
  const [labelled, rst, control] = results;
  const gain = (a: VariantResult, b: VariantResult): string =>
    `clean ${(100 * (a.cleanAccuracy - b.cleanAccuracy)).toFixed(2)} points, PGD-20 ${(100 * (a.pgd20RobustAccuracy - b.pgd20RobustAccuracy)).toFixed(2)}, AutoAttack ${(100 * (a.autoAttackRobustAccuracy - b.autoAttackRobustAccuracy)).toFixed(2)}`;
  process.stdout.write(`\n+unlabelled minus labelled: ${gain(rst!, labelled!)}\n+unlabelled minus labelled, same steps: ${gain(rst!, control!)}\n`);
  if (quick) return;
  const variants = results.map((r) => ({ ...r, options: undefined, config: r.metrics.config, metrics: { ...r.metrics, config: undefined } }));
  process.stdout.write(`Wrote ${await writeResult('unlabeled', { quick, eps: EPS, labelled: LABELLED, variants })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:unlabeled failed: ${getErrorMessage(err)}\n`);
  process.exitCode = 1;
});
