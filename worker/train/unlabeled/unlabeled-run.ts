/**
 * Robust self-training for a run (Carmon et al. 2019):
 *
 * 1. Setup builds the unlabelled pool: `--unlabeled-data` images plus the
 *    `--unlabeled-fraction` of the training set whose labels are hidden.
 * 2. After the resume phase, the teacher labels the pool unless the
 *    checkpoint already held its labels (state/teacher-part.ts): trained with
 *    standard training on the labelled data only, on every rank from the same
 *    seed, then rank 0's labels are broadcast so the ranks agree exactly.
 * 3. Every step mixes the two at `--unlabeled-ratio` (mixed-batch.ts).
 */
import type { TrainOptions } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import { loadUnlabeledPool } from '../../data/unlabeled-source.js';
import { concatSplits, gatherBatch, type Batch } from '../../data/split-ops.js';
import type { Dataset, Split } from '../../data/types.js';
import { splitUnlabeled } from '../../data/unlabeled.js';
import type { RunContext } from '../run-context.js';
import { poolBatchIndices, poolStepsPerPass, splitBatch, type BatchShares, type PoolSampling } from './mixed-batch.js';
import { pseudoLabel } from './pseudo-label.js';
import { TEACHER_ORIGINS, TeacherState } from './teacher-state.js';

/** The unlabelled side of a run. */
export interface UnlabeledRun {
  readonly teacher: TeacherState;
  readonly shares: BatchShares;
  readonly sampling: PoolSampling;
}

/** What Step 1 gives setup: the labelled split and, with a pool, its sampling. */
export interface PreparedData {
  readonly labeled: Split;
  readonly unlabeled?: UnlabeledRun;
}

/** Step 1: the labelled split and the pool (undefined without `--unlabeled-data` or `--unlabeled-fraction`). */
export async function prepareUnlabeled(dataset: Dataset, opts: TrainOptions, ctx: Pick<RunContext, 'worldSize' | 'log'>): Promise<PreparedData> {
  const hidden = opts.unlabeledFraction > 0 ? splitUnlabeled(dataset.train, opts.unlabeledFraction, opts.seed) : { labeled: dataset.train, unlabeled: undefined };
  const extra = opts.unlabeledData !== undefined
    ? await loadUnlabeledPool({ source: opts.unlabeledData, dataset: opts.dataset, ...(opts.limit !== undefined ? { limit: opts.limit } : {}), ...(opts.testSize !== undefined ? { testSize: opts.testSize } : {}), inputShape: dataset.inputShape, log: ctx.log })
    : undefined;
  const parts = [hidden.unlabeled, extra].filter((s): s is Split => s !== undefined && s.n > 0);
  if (parts.length === 0) return { labeled: hidden.labeled };
  const pool = parts.length === 1 ? parts[0]! : concatSplits(...parts);
  const shares = splitBatch(opts.batchSize, opts.unlabeledRatio);
  const sampling: PoolSampling = { poolSize: pool.n, unlabeledBatch: shares.unlabeled, worldSize: ctx.worldSize, seed: opts.seed };
  poolStepsPerPass(sampling);
  return { labeled: hidden.labeled, unlabeled: { teacher: new TeacherState(pool), shares, sampling } };
}

/** What Step 2 needs from the run. */
export interface TeacherInputs {
  readonly opts: TrainOptions;
  readonly ctx: RunContext;
  readonly dataset: Pick<Dataset, 'inputShape' | 'numClasses'>;
  readonly train: Split;
  readonly unlabeled?: UnlabeledRun;
}

/** Step 2: trains the teacher and labels the pool, unless a checkpoint restored the labels. */
export async function ensureTeacher(run: TeacherInputs): Promise<void> {
  const u = run.unlabeled;
  if (u === undefined) return;
  const { opts, ctx } = run;
  if (u.teacher.ready) {
    ctx.log.info('Restored teacher from checkpoint', { unlabeled: u.teacher.pool.n });
    return;
  }
  const result = await pseudoLabel({
    labeled: run.train,
    unlabeled: u.teacher.pool,
    model: opts.model,
    inputShape: run.dataset.inputShape,
    numClasses: run.dataset.numClasses,
    epochs: opts.teacherEpochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    log: ctx.log,
  });
  let labels = result.labels;
  if (ctx.broadcastWeights !== undefined && ctx.worldSize > 1) {
    // Teachers train identically from the same seed; rank 0's labels make agreement certain.
    labels = Int32Array.from(await ctx.broadcastWeights(Float32Array.from(labels)));
  }
  u.teacher.set({ labels, weights: result.teacherWeights }, TEACHER_ORIGINS.trained);
}

/** A reusable batch buffer (grown when a batch is larger). */
export interface BatchBuffer {
  x: Float32Array;
  y: Int32Array;
}

/** Step 3: rank `rank`'s mixed batch at (`epoch`, `step`): labelled examples first, then pool ones. */
export function gatherMixedBatch(u: UnlabeledRun, labeledIdx: Int32Array, globalStep: number, rank: number, labeled: Split, buf: BatchBuffer): Batch {
  if (!u.teacher.ready) throw new ConfigError('internal: the pool was sampled before the teacher labelled it');
  const poolIdx = poolBatchIndices(u.sampling, globalStep, rank);
  const size = labeled.x.length / labeled.n;
  const n = labeledIdx.length + poolIdx.length;
  if (buf.y.length < n) {
    buf.x = new Float32Array(n * size);
    buf.y = new Int32Array(n);
  }
  const a = gatherBatch(labeled, labeledIdx, { x: buf.x, y: buf.y });
  gatherBatch(u.teacher.pseudoLabeled(), poolIdx, { x: buf.x.subarray(a.n * size), y: buf.y.subarray(a.n) });
  return { n, x: buf.x.subarray(0, n * size), y: buf.y.subarray(0, n) };
}
