/**
 * Sharding an epoch across the ring's ranks.
 *
 * Every epoch, all ranks compute the same seeded permutation of the `n`
 * training examples (seed = deriveSeed(seed, epoch)). Step `s` of the epoch
 * uses the global batch at positions [s*W*B, (s+1)*W*B) of that permutation
 * (W ranks, B examples per rank); rank `r` takes the slice
 * [s*W*B + r*B, s*W*B + (r+1)*B). So the ranks' shards are disjoint, and over
 * the epoch they cover every example of the full global batches exactly once.
 *
 * Remainder policy (drop, never pad): an epoch has floor(n / (W*B)) steps;
 * the last n mod (W*B) positions of the permutation are not used that epoch.
 * Since each epoch reshuffles, which examples fall in the remainder changes
 * from epoch to epoch, and no example is systematically excluded. Padding
 * would instead repeat examples within an epoch and bias the gradient.
 *
 * All functions are pure: a resumed run asking for (epoch, step) gets the
 * same indices as the original run did.
 */
import { Rng, deriveSeed } from '../util/rng.js';
import { ConfigError } from '../../common/errors.js';

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${name} must be a positive integer, got ${v}`);
}

/** Full global batches per epoch: floor(n / (worldSize * batchSize)); 0 when n is smaller than one global batch. */
export function stepsPerEpoch(n: number, worldSize: number, batchSize: number): number {
  checkPositiveInt('worldSize', worldSize);
  checkPositiveInt('batchSize', batchSize);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`example count must be a non-negative integer, got ${n}`);
  return Math.floor(n / (worldSize * batchSize));
}

/** The permutation of 0..n-1 that every rank uses in `epoch` (a fresh array). */
export function epochOrder(n: number, epoch: number, seed: number): Int32Array {
  return cachedOrder(n, epoch, seed).slice();
}

// One-entry memo: a rank asks for every step of the same epoch in turn, and
// reshuffling 60,000 indices per step would be wasted work. Callers only get copies.
let memo: { n: number; epoch: number; seed: number; order: Int32Array } | undefined;

function cachedOrder(n: number, epoch: number, seed: number): Int32Array {
  if (memo !== undefined && memo.n === n && memo.epoch === epoch && memo.seed === seed) return memo.order;
  if (!Number.isInteger(epoch) || epoch < 0) throw new ConfigError(`epoch must be a non-negative integer, got ${epoch}`);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  new Rng(deriveSeed(seed, epoch)).shuffle(order);
  memo = { n, epoch, seed, order };
  return order;
}

/** The `batchSize` example indices rank `rank` trains on at (`epoch`, `step`). */
export function batchIndices(n: number, epoch: number, step: number, seed: number, rank: number, worldSize: number, batchSize: number): Int32Array {
  const steps = stepsPerEpoch(n, worldSize, batchSize);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new ConfigError(`rank ${rank} out of range [0, ${worldSize})`);
  if (!Number.isInteger(step) || step < 0 || step >= steps) {
    throw new ConfigError(`step ${step} out of range [0, ${steps}): ${n} examples give ${steps} full global batches of ${worldSize} x ${batchSize}`);
  }
  const start = (step * worldSize + rank) * batchSize;
  return cachedOrder(n, epoch, seed).slice(start, start + batchSize);
}
