/**
 * A digest of every trainable variable registered with TF.js, for tests that
 * check all ranks hold bit-identical parameters. Reads the engine's variable
 * registry because runTraining owns the model; ordering by name makes the
 * digest independent of registration order.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';

/** sha256 (hex, first 16 chars) over the bytes of all trainable variables, sorted by name. */
export function digestTrainableVariables(): string {
  const vars = Object.values(tf.engine().state.registeredVariables)
    .filter((v) => v.trainable && !v.isDisposed)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h = createHash('sha256');
  for (const v of vars) {
    const data = v.dataSync();
    h.update(v.name);
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return `${vars.length}:${h.digest('hex').slice(0, 16)}`;
}
