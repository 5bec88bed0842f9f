/**
 * AutoAttack's restart and target loops: each round runs only on the
 * examples that every earlier round left correctly classified, and an
 * example keeps the first adversarial point found for it.
 */
import * as tf from '@tensorflow/tfjs';
import { correctMask, logitsOf } from './types.js';

/** One round on a subset (xs, ys) of still-robust examples; `round` counts from 0. Disposes all but its result. */
export type Round = (xs: tf.Tensor4D, ys: tf.Tensor1D, round: number) => Promise<tf.Tensor4D>;

/** Runs `rounds` rounds of `run` (see the module comment); resolves to x_adv for the whole batch. */
export async function restartOnRobust(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, rounds: number, run: Round): Promise<tf.Tensor4D> {
  let out = tf.clone(x);
  const robust = Array.from(tf.tidy(() => correctMask(logitsOf(model, x), y)));
  for (let r = 0; r < rounds; r++) {
    const idx = robust.flatMap((ok, i) => (ok === 1 ? [i] : []));
    if (idx.length === 0) break;
    // The round is awaited, so it runs outside any tidy: the subset is disposed here.
    const [xs, ys] = tf.tidy(() => {
      const ids = tf.tensor1d(idx, 'int32');
      return [tf.gather(x, ids) as tf.Tensor4D, tf.gather(y, ids) as tf.Tensor1D] as const;
    });
    const adv = await run(xs, ys, r);
    xs.dispose();
    const stillOk = tf.tidy(() => correctMask(logitsOf(model, adv), ys));
    const fooled = idx.filter((_, j) => stillOk[j] === 0);
    if (fooled.length > 0) {
      const prev = out;
      out = tf.tidy(() => {
        const pos = idx.flatMap((_, j) => (stillOk[j] === 0 ? [j] : []));
        const update = tf.gather(adv, tf.tensor1d(pos, 'int32'));
        return tf.tensorScatterUpdate(prev, tf.tensor2d(fooled, [fooled.length, 1], 'int32'), update) as tf.Tensor4D;
      });
      prev.dispose();
      for (const i of fooled) robust[i] = 0;
    }
    tf.dispose([adv, ys]);
  }
  return out;
}
