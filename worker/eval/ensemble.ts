/**
 * AutoAttack's bookkeeping for one batch:
 *
 * 1. Clean predictions; the robust-so-far mask starts as "correct on x".
 * 2. Each attack in turn runs only on the still-robust examples; an example
 *    it misclassifies (with x_adv checked to lie in the eps-ball and [0, 1])
 *    leaves the mask.
 *    At eps 0 the ball is x itself: no attack runs, and robust = clean.
 * 3. After each attack the mask is recorded, so the counts are cumulative
 *    robust accuracy as AutoAttack prints it, and the last one is the
 *    per-example worst case over the ensemble.
 */
import * as tf from '@tensorflow/tfjs';
import { DatError } from '../../common/errors.js';
import { correctMask, logitsOf, type EvalAttackFn, type EvalAttackName } from './attacks/types.js';

/** One attack of the ensemble with the seed it uses for this batch. */
export interface EnsembleStep {
  readonly name: EvalAttackName;
  readonly run: EvalAttackFn;
}

/** Per-example outcome of one batch: 1 = still correctly classified. */
export interface BatchOutcome {
  readonly clean: Uint8Array;
  /** robustAfter[a][i]: example i survived attacks 0..a. */
  readonly robustAfter: readonly Uint8Array[];
}

// Float32 slack for "inside the eps-ball": x ± eps is rounded once.
const BALL_SLACK = 1e-5;

/** Throws when an attack returned a point outside the eps-ball or [0, 1] (a bug, never a result). */
function checkInBall(name: EvalAttackName, x: tf.Tensor4D, xAdv: tf.Tensor4D, eps: number): void {
  const [dist, lo, hi] = tf.tidy(() => [tf.max(tf.abs(tf.sub(xAdv, x))), tf.min(xAdv), tf.max(xAdv)].map((t) => t.dataSync()[0]!));
  if (dist! > eps + BALL_SLACK || lo! < 0 || hi! > 1) {
    throw new DatError(`attack ${name} left the threat model: L-inf distance ${dist}, range [${lo}, ${hi}], eps ${eps}`, { retryable: false });
  }
}

/** Runs the ensemble on one batch (see the module comment); `seedOf(a)` seeds attack a. */
export async function runEnsemble(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, steps: readonly EnsembleStep[], eps: number, seedOf: (attack: number) => number): Promise<BatchOutcome> {
  // Step 1
  const clean = tf.tidy(() => correctMask(logitsOf(model, x), y));
  const robust = Uint8Array.from(clean);
  const robustAfter: Uint8Array[] = [];
  for (const [a, step] of steps.entries()) {
    // Step 2. At eps 0 the ball holds only x, so no attack can change a prediction (and the attacks refuse eps 0).
    const idx = eps === 0 ? [] : Array.from(robust).flatMap((r, i) => (r === 1 ? [i] : []));
    if (idx.length > 0) {
      const [xs, ys] = tf.tidy(() => {
        const ids = tf.tensor1d(idx, 'int32');
        return [tf.gather(x, ids) as tf.Tensor4D, tf.gather(y, ids) as tf.Tensor1D] as const;
      });
      // Awaited outside any tidy: everything of this step is disposed in `finally`.
      const xAdv = await step.run(model, xs, ys, eps, seedOf(a)).catch((err: unknown) => {
        tf.dispose([xs, ys]);
        throw err;
      });
      try {
        checkInBall(step.name, xs, xAdv, eps);
        const stillOk = tf.tidy(() => correctMask(logitsOf(model, xAdv), ys));
        idx.forEach((i, j) => (robust[i] = stillOk[j]!));
      } finally {
        tf.dispose([xs, ys, xAdv]);
      }
    }
    // Step 3
    robustAfter.push(Uint8Array.from(robust));
  }
  return { clean, robustAfter };
}
