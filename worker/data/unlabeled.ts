/**
 * Labeled / unlabeled data for robust self-training: part of the training
 * set loses its labels, a teacher trained on the rest pseudo-labels it, and
 * adversarial training then uses both: robust self-training (Carmon et al.
 * 2019, "Unlabeled Data Improves Adversarial Robustness"), as DAT uses it
 * (Zhang et al. 2022, "Distributed Adversarial Training to Robustify Deep
 * Neural Networks at Scale", ICML).
 */
import { Rng, deriveSeed } from '../util/rng.js';
import { ConfigError } from '../../common/errors.js';
import { UNLABELED, UNLABELED_SEED_TAG } from './constants.js';
import { subsetSplit } from './split-ops.js';
import type { Split } from './types.js';

/** A training split divided in two; `unlabeled.y` is all {@link UNLABELED} (-1). */
export interface LabeledUnlabeled {
  readonly labeled: Split;
  readonly unlabeled: Split;
}

/**
 * Moves round(fraction * n) seeded-random examples of `split` to an
 * unlabeled split (labels set to -1); both parts keep `split`'s relative
 * order. The same (split, fraction, seed) always gives the same parts.
 */
export function splitUnlabeled(split: Split, fraction: number, seed: number): LabeledUnlabeled {
  if (!(fraction >= 0 && fraction < 1)) throw new ConfigError(`unlabeledFraction must be in [0, 1), got ${fraction}`);
  const k = Math.round(fraction * split.n);
  const perm = new Int32Array(split.n);
  for (let i = 0; i < split.n; i++) perm[i] = i;
  new Rng(deriveSeed(seed, UNLABELED_SEED_TAG)).shuffle(perm);
  const unlabeledIdx = perm.slice(0, k).sort();
  const labeledIdx = perm.slice(k).sort();
  if (k > 0 && labeledIdx.length === 0) throw new ConfigError(`unlabeledFraction ${fraction} leaves no labeled example of ${split.n} to train a teacher on`);
  const unlabeled = subsetSplit(split, unlabeledIdx);
  unlabeled.y.fill(UNLABELED);
  return { labeled: subsetSplit(split, labeledIdx), unlabeled };
}

/** `unlabeled` with the teacher's labels (copied; the images are shared, not copied). */
export function withPseudoLabels(unlabeled: Split, labels: Int32Array): Split {
  if (labels.length !== unlabeled.n) throw new ConfigError(`got ${labels.length} pseudo-labels for ${unlabeled.n} unlabeled examples`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0) throw new ConfigError(`pseudo-label ${labels[i]} at index ${i} is not a class index`);
  }
  return { n: unlabeled.n, x: unlabeled.x, y: labels.slice() };
}
