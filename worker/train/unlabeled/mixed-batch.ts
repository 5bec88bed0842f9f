/**
 * How a batch is split between labelled and pseudo-labelled examples, and
 * which pool examples rank `r` takes at a global step: robust self-training's
 * sampler (Carmon et al. 2019, "Unlabeled Data Improves Adversarial
 * Robustness", NeurIPS), seeded and sharded like the labelled data.
 *
 * 1. Each rank's batch of B examples holds round(ratio * B) pool examples
 *    and B minus that labelled ones. An epoch is one pass over the labelled
 *    data (as RST's sampler counts it), so it has floor(nL / (W * BL)) steps.
 * 2. The pool is read in its own passes, independent of the labelled epochs:
 *    pass p is a seeded permutation of the pool (seed, purpose tag, p); global
 *    step g takes the g-th global slice of W * BU examples of it, rank r its
 *    r-th share (worker/data/shard.ts), so the ranks' shares are disjoint.
 *
 * Every index is a pure function of (seed, global step, rank): a resumed run
 * draws what the uninterrupted one drew.
 */
import { ConfigError } from '../../../common/errors.js';
import { UNLABELED_ORDER_SEED_TAG } from '../../data/constants.js';
import { batchIndices, stepsPerEpoch } from '../../data/shard.js';
import { deriveSeed } from '../../util/rng.js';

/** Per-rank batch shares. */
export interface BatchShares {
  readonly labeled: number;
  readonly unlabeled: number;
}

/** Step 1's arithmetic, unchecked (the operator's pre-flight check uses it too). */
export function batchShares(batchSize: number, ratio: number): BatchShares {
  const unlabeled = Math.round(ratio * batchSize);
  return { labeled: batchSize - unlabeled, unlabeled };
}

/** Step 1: the labelled and pool shares of a per-rank batch of `batchSize`, each at least 1. */
export function splitBatch(batchSize: number, ratio: number): BatchShares {
  if (!(ratio > 0 && ratio < 1)) throw new ConfigError(`invalid value ${ratio} for --unlabeled-ratio: must be in (0, 1)`);
  const { labeled, unlabeled } = batchShares(batchSize, ratio);
  if (unlabeled < 1 || labeled < 1) {
    throw new ConfigError(`invalid value ${ratio} for --unlabeled-ratio: with --batch-size ${batchSize} it leaves ${labeled} labelled and ${unlabeled} unlabelled examples per batch; both need at least 1 (raise --batch-size)`);
  }
  return { labeled, unlabeled };
}

/** Where the pool stands for a run: its size and the shares. */
export interface PoolSampling {
  readonly poolSize: number;
  readonly unlabeledBatch: number;
  readonly worldSize: number;
  readonly seed: number;
}

/** Global steps per pass over the pool; a ConfigError when the pool cannot fill one global share. */
export function poolStepsPerPass(p: PoolSampling): number {
  const steps = stepsPerEpoch(p.poolSize, p.worldSize, p.unlabeledBatch);
  if (steps === 0) {
    throw new ConfigError(`--unlabeled-data: ${p.poolSize} unlabelled images cannot fill one global share of ${p.worldSize} x ${p.unlabeledBatch} (--unlabeled-ratio of --batch-size); add images or lower --unlabeled-ratio`);
  }
  return steps;
}

/** Step 2: the pool indices rank `rank` takes at global step `globalStep`. */
export function poolBatchIndices(p: PoolSampling, globalStep: number, rank: number): Int32Array {
  const perPass = poolStepsPerPass(p);
  const pass = Math.floor(globalStep / perPass);
  return batchIndices(p.poolSize, pass, globalStep % perPass, deriveSeed(p.seed, UNLABELED_ORDER_SEED_TAG), rank, p.worldSize, p.unlabeledBatch);
}
