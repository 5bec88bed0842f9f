/** The fixed train/test split of datasets that ship without one (the built-ins). */
import { Rng } from '../util/rng.js';
import { ConfigError } from '../../common/errors.js';
import { HOLDOUT_SEED } from './constants.js';

/** Disjoint train and test index lists over `n` examples. */
export interface Holdout {
  /** Held-out indices, in a seeded random order (so any prefix mixes the classes). */
  readonly test: Int32Array;
  /** The remaining indices, in a seeded random order (so `--limit N` takes a class-mixed prefix). */
  readonly train: Int32Array;
}

/**
 * Splits `n` examples: one seeded permutation, the first `testSize` are the
 * test set, the rest the training set. Independent of any `--limit`, and a
 * smaller `testSize` gives a subset of a larger one's test set.
 */
export function computeHoldout(n: number, testSize: number, seed: number = HOLDOUT_SEED): Holdout {
  if (!Number.isInteger(testSize) || testSize < 1 || testSize >= n) {
    throw new ConfigError(`testSize ${testSize} must be an integer in [1, ${n - 1}] for a dataset of ${n} examples`);
  }
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Rng(seed).shuffle(perm);
  return { test: perm.slice(0, testSize), train: perm.slice(testSize) };
}
