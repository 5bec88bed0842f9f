/**
 * The examples one process attacks, batch by batch. Batches are cut from the
 * first K test examples globally (batch b = examples [bB, (b+1)B)) and rank r
 * of N takes the batches with b mod N = r; attack a on batch b is seeded by
 * (seed, b, a). So the per-example outcome does not depend on N.
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/types.js';
import { deriveSeed } from '../util/rng.js';
import { evalAttackFn, type AttackHooks } from './attacks/index.js';
import type { EvalAttackName } from './attacks/types.js';
import { runEnsemble } from './ensemble.js';

/** What a shard needs to know. */
export interface ShardPlan {
  readonly attacks: readonly EvalAttackName[];
  readonly eps: number;
  readonly seed: number;
  readonly batchSize: number;
  /** First K examples of the split. */
  readonly nExamples: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly inputShape: readonly [number, number, number];
}

/** Per-example outcome of a shard, as 0/1 arrays aligned with `indices`. */
export interface ShardOutcome {
  readonly indices: number[];
  readonly clean: number[];
  /** robustAfter[a][j]: example indices[j] survived attacks 0..a. */
  readonly robustAfter: number[][];
  /** Seconds each attack took in this shard. */
  readonly seconds: number[];
}

/** Progress of a shard: finished (batch, attack) pairs of its total. */
export interface ShardProgress {
  readonly done: number;
  readonly total: number;
  readonly attack: EvalAttackName;
  readonly detail?: string;
}

/** The global batch numbers rank `rank` evaluates. */
export function shardBatches(nExamples: number, batchSize: number, rank: number, worldSize: number): number[] {
  const out: number[] = [];
  for (let b = rank; b * batchSize < nExamples; b += worldSize) out.push(b);
  return out;
}

/** Gathers examples [from, to) of `split` into tensors. */
function batchTensors(split: Split, from: number, to: number, shape: readonly [number, number, number]): [tf.Tensor4D, tf.Tensor1D] {
  const size = shape[0] * shape[1] * shape[2];
  return [tf.tensor4d(split.x.slice(from * size, to * size), [to - from, ...shape]), tf.tensor1d(split.y.slice(from, to), 'int32')];
}

/** Runs the ensemble over this rank's batches (see the module comment). */
export async function evaluateShard(model: tf.LayersModel, split: Split, plan: ShardPlan, onProgress: (p: ShardProgress) => void = () => {}): Promise<ShardOutcome> {
  const out: ShardOutcome = { indices: [], clean: [], robustAfter: plan.attacks.map(() => []), seconds: plan.attacks.map(() => 0) };
  const batches = shardBatches(plan.nExamples, plan.batchSize, plan.rank, plan.worldSize);
  const total = batches.length * plan.attacks.length;
  let done = 0;
  for (const b of batches) {
    const from = b * plan.batchSize;
    const to = Math.min(from + plan.batchSize, plan.nExamples);
    const [x, y] = batchTensors(split, from, to, plan.inputShape);
    const steps = plan.attacks.map((name, a) => {
      const hooks: AttackHooks = { onSquareQuery: (q, left) => q % 250 === 0 && onProgress({ done, total, attack: name, detail: `query ${q}, ${left} left` }) };
      const run = evalAttackFn(name, hooks);
      return {
        name,
        run: async (...args: Parameters<typeof run>) => {
          const t0 = performance.now();
          onProgress({ done, total, attack: name });
          const r = await run(...args);
          out.seconds[a]! += (performance.now() - t0) / 1000;
          done++;
          return r;
        },
      };
    });
    const outcome = await runEnsemble(model, x, y, steps, plan.eps, (a) => deriveSeed(plan.seed, b, a) || 1);
    // An attack skipped for lack of robust examples still counts as done.
    done = (batches.indexOf(b) + 1) * plan.attacks.length;
    onProgress({ done, total, attack: plan.attacks[plan.attacks.length - 1]! });
    tf.dispose([x, y]);
    for (let i = from; i < to; i++) out.indices.push(i);
    out.clean.push(...outcome.clean);
    outcome.robustAfter.forEach((r, a) => out.robustAfter[a]!.push(...r));
    // Lets progress lines and signals through between batches.
    await new Promise((r) => setImmediate(r));
  }
  return out;
}
