/**
 * The final evaluation (`--final-eval`): `dat eval`'s attacks (the AutoAttack
 * ensemble by default) on the final model and the first K held-out examples,
 * as the last act of training, so a job's result says how robust its model
 * is under the standard attacks and not only under the trainer's own PGD.
 *
 * 1. Plan: the attacks in run order, eps, K, and the batch size; batch b goes
 *    to rank b mod N, as with `dat eval --workers N`.
 * 2. Each rank attacks its batches (worker/eval/evaluate-shard.ts).
 * 3. The ranks' per-example 0/1 outcomes are summed across the ring: every
 *    example belongs to one rank, so the sum is the merge. Each rank's
 *    seconds travel in a slot of their own, so the slowest one is known.
 * 4. The report (pure: {@link buildFinalEvaluation}).
 */
import { performance } from 'node:perf_hooks';
import type { FinalEvalAttack, FinalEvaluationReport, TrainOptions } from '../../../common/contract.js';
import type { Split } from '../../data/types.js';
import { expandAttacks } from '../../eval/eval-options.js';
import { evaluateShard, type ShardOutcome, type ShardPlan } from '../../eval/evaluate-shard.js';
import type { TrainRun } from './train-run.js';

/** Largest batch attacked at once (`dat eval`'s default --batch-size). */
export const FINAL_EVAL_MAX_BATCH = 500;

/** Whether `opts` asks for a final evaluation. */
export function wantsFinalEvaluation(opts: TrainOptions): boolean {
  const words = opts.finalEval ?? [];
  return words.length > 0 && !words.includes('none');
}

/**
 * Step 1: the shard plan of rank `rank` of `worldSize`. The batch is at most
 * {@link FINAL_EVAL_MAX_BATCH} and small enough that every rank gets a batch
 * when K allows (the default K = 1000 would otherwise leave ranks 2+ idle).
 */
export function planFinalEvaluation(opts: TrainOptions, test: Split, inputShape: ShardPlan['inputShape'], rank: number, worldSize: number): ShardPlan {
  const want = opts.finalEvalExamples ?? 0;
  const nExamples = want > 0 ? Math.min(want, test.n) : test.n;
  const words = (opts.finalEval ?? []).filter((w): w is Exclude<FinalEvalAttack, 'none'> => w !== 'none');
  return {
    attacks: expandAttacks(words),
    eps: opts.finalEvalEps ?? opts.eps,
    seed: opts.seed,
    batchSize: Math.max(1, Math.min(FINAL_EVAL_MAX_BATCH, Math.ceil(nExamples / worldSize))),
    nExamples,
    rank,
    worldSize,
    inputShape,
  };
}

/**
 * Step 3's buffer: per-example flags at their global index (clean, then one
 * row per attack, K each), then `worldSize` x attacks seconds, this rank's
 * in its own slot. Summing the ranks' buffers merges them.
 */
export function packOutcome(o: ShardOutcome, plan: ShardPlan): Float32Array {
  const k = plan.nExamples;
  const a = plan.attacks.length;
  const buf = new Float32Array((1 + a) * k + plan.worldSize * a);
  o.indices.forEach((idx, j) => {
    buf[idx] = o.clean[j]!;
    for (let r = 0; r < a; r++) buf[(1 + r) * k + idx] = o.robustAfter[r]![j]!;
  });
  for (let r = 0; r < a; r++) buf[(1 + a) * k + plan.rank * a + r] = o.seconds[r]!;
  return buf;
}

/** The merged outcome from a summed buffer: every example, and each attack's slowest rank. */
export function unpackOutcome(buf: Float32Array, plan: ShardPlan): ShardOutcome {
  const k = plan.nExamples;
  const a = plan.attacks.length;
  const row = (r: number): number[] => Array.from(buf.subarray(r * k, (r + 1) * k), (v) => Math.round(v));
  const secondsOf = (r: number): number => Math.max(...Array.from({ length: plan.worldSize }, (_, w) => buf[(1 + a) * k + w * a + r]!));
  return {
    indices: Array.from({ length: k }, (_, i) => i),
    clean: row(0),
    robustAfter: Array.from({ length: a }, (_, r) => row(1 + r)),
    seconds: Array.from({ length: a }, (_, r) => secondsOf(r)),
  };
}

const sum = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0);

/** Step 4: metrics.json's `finalEvaluation` from the merged outcome. */
export function buildFinalEvaluation(plan: ShardPlan, merged: ShardOutcome, seconds: number): FinalEvaluationReport {
  const n = Math.max(merged.indices.length, 1);
  const last = merged.robustAfter[merged.robustAfter.length - 1] ?? merged.clean;
  return {
    attacks: [...plan.attacks],
    norm: 'linf',
    eps: plan.eps,
    examples: merged.indices.length,
    cleanAccuracy: sum(merged.clean) / n,
    perAttack: plan.attacks.map((attack, a) => ({ attack, robustAccuracy: sum(merged.robustAfter[a]!) / n, seconds: merged.seconds[a]! })),
    robustAccuracy: sum(last) / n,
    seconds,
  };
}

/** Runs Steps 1-4 on this rank (every rank of a ring takes part); undefined when `--final-eval none`. */
export async function runFinalEvaluation(run: TrainRun): Promise<FinalEvaluationReport | undefined> {
  const { opts, ctx, loop } = run;
  if (!wantsFinalEvaluation(opts)) return undefined;
  const started = performance.now();
  const sharded = ctx.sumAcrossRanks !== undefined && ctx.worldSize > 1;
  // Step 1
  const plan = planFinalEvaluation(opts, run.dataset.test, run.dataset.inputShape, sharded ? ctx.rank : 0, sharded ? ctx.worldSize : 1);
  const base = { phase: 'evaluating', epoch: loop.epoch, totalEpochs: opts.epochs, step: loop.globalStep, totalSteps: run.totalSteps } as const;
  run.report(base);
  ctx.log.info('Started final evaluation', { attacks: plan.attacks.join(','), eps: plan.eps, examples: plan.nExamples, batchSize: plan.batchSize, ranks: plan.worldSize });
  // Step 2
  const local = await evaluateShard(run.model, run.dataset.test, plan);
  // Step 3
  const merged = sharded ? unpackOutcome(await ctx.sumAcrossRanks!(packOutcome(local, plan)), plan) : local;
  // Step 4
  const seconds = (performance.now() - started) / 1000;
  run.timeSplit.addEvaluation(seconds);
  const report = buildFinalEvaluation(plan, merged, seconds);
  ctx.log.info('Finished final evaluation', { clean: Number(report.cleanAccuracy.toFixed(4)), robust: Number(report.robustAccuracy.toFixed(4)), seconds: Number(seconds.toFixed(1)) });
  return report;
}
