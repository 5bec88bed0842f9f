/**
 * APGD-T: Auto-PGD on the targeted DLR loss, the second attack of the
 * standard AutoAttack ensemble. For target rank t = 1..9 (the 9 classes with
 * the highest clean logits after the top one), one 100-iteration APGD run
 * towards class π_{t+1}, on the examples no earlier target fooled.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../../util/rng.js';
import { apgdRun } from './_apgd-core.js';
import { restartOnRobust } from './_restarts.js';
import { rankedClass, targetedDlrLoss } from './margin-losses.js';
import { checkBatch, checkEps, checkInt, logitsOf } from './types.js';

/** Settings of APGD-T; defaults are the standard version's. */
export interface ApgdTOptions {
  /** @default 100 */
  readonly steps?: number;
  /** @default 9 (capped at numClasses − 1) */
  readonly targets?: number;
}

/** Targeted-DLR APGD over the top non-true classes; see the module comment. */
export async function apgdTAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, seed: number, o: ApgdTOptions = {}): Promise<tf.Tensor4D> {
  const steps = o.steps ?? 100;
  checkEps('apgd-t', eps);
  checkInt('apgd-t', 'steps', steps, 1);
  checkBatch('apgd-t', x, y);
  const numClasses = (model.outputs[0]!.shape[1] ?? 0) as number;
  checkInt('apgd-t', 'number of classes (the targeted DLR loss needs 4)', numClasses, 4);
  const targets = Math.min(o.targets ?? 9, numClasses - 1);
  return restartOnRobust(model, x, y, targets, async (xs, ys, r) => {
    const target = tf.tidy(() => rankedClass(logitsOf(model, xs), r + 1));
    const adv = await apgdRun(model, xs, ys, (logits, yy) => targetedDlrLoss(logits, yy, target), { eps, steps, seed: deriveSeed(seed, r) || 1 });
    target.dispose();
    return adv;
  });
}
