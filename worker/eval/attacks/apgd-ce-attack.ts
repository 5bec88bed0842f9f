/**
 * APGD-CE: Auto-PGD on the cross-entropy loss, the first attack of the
 * standard AutoAttack ensemble (100 iterations, 1 restart). See _apgd-core.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import { crossEntropyPerExample } from '../../train/losses.js';
import { deriveSeed } from '../../util/rng.js';
import { apgdRun } from './_apgd-core.js';
import { restartOnRobust } from './_restarts.js';
import { checkBatch, checkEps, checkInt } from './types.js';

/** Settings of APGD-CE; defaults are the standard version's. */
export interface ApgdCeOptions {
  /** @default 100 */
  readonly steps?: number;
  /** @default 1 */
  readonly restarts?: number;
}

/** Untargeted APGD on CE; each restart runs only on the examples the previous ones did not fool. */
export async function apgdCeAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, seed: number, o: ApgdCeOptions = {}): Promise<tf.Tensor4D> {
  const steps = o.steps ?? 100;
  const restarts = o.restarts ?? 1;
  checkEps('apgd-ce', eps);
  checkInt('apgd-ce', 'steps', steps, 1);
  checkInt('apgd-ce', 'restarts', restarts, 1);
  checkBatch('apgd-ce', x, y);
  return restartOnRobust(model, x, y, restarts, (xs, ys, r) => apgdRun(model, xs, ys, crossEntropyPerExample, { eps, steps, seed: deriveSeed(seed, r) || 1 }));
}
