/**
 * Moving model variables to and from one flat Float32Array: the gradient
 * all-reduce, the rank-0 weight broadcast and checkpoints all use this form.
 * The order is the order of the list passed in (use the same list everywhere).
 */
import * as tf from '@tensorflow/tfjs';
import { DatError } from '../../common/errors.js';

/** Total number of scalars in `vars`. */
export function totalSize(vars: readonly tf.Tensor[]): number {
  let n = 0;
  for (const v of vars) n += v.size;
  return n;
}

/**
 * The model's trainable variables (what gradients and optimizers act on), in
 * `model.trainableWeights` order.
 */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => asVariable(w.read(), w.name));
}

/**
 * Every weight of the model, trainable ones and BatchNorm running statistics,
 * in `model.weights` order: what a broadcast or checkpoint must carry.
 */
export function modelVariables(model: tf.LayersModel): tf.Variable[] {
  return model.weights.map((w) => asVariable(w.read(), w.name));
}

/**
 * The non-trainable weights (BatchNorm running statistics), in
 * `model.nonTrainableWeights` order: what drifts per rank within an epoch.
 */
export function nonTrainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.nonTrainableWeights.map((w) => asVariable(w.read(), w.name));
}

function asVariable(t: tf.Tensor, name: string): tf.Variable {
  // LayerVariable.read() is typed as Tensor but returns the backing tf.Variable.
  if (!(t instanceof tf.Variable)) throw new DatError(`weight ${name} is not backed by a tf.Variable`, { retryable: false });
  return t;
}

/**
 * Fuses tensors into one Float32Array, in order. Async (awaits `data()`), so
 * never call it inside a tidy. Writes into `out` when given (it must have
 * exactly {@link totalSize} elements) and returns it.
 */
export async function flattenTensors(ts: readonly tf.Tensor[], out?: Float32Array): Promise<Float32Array> {
  const n = totalSize(ts);
  if (out !== undefined && out.length !== n) throw new DatError(`flattenTensors: output buffer has ${out.length} elements, tensors have ${n}`, { retryable: false });
  const flat = out ?? new Float32Array(n);
  // Start every download before awaiting any, so a GPU backend can overlap them.
  const data = await Promise.all(ts.map((t) => t.data()));
  let off = 0;
  for (const d of data) {
    flat.set(d, off);
    off += d.length;
  }
  return flat;
}

/**
 * Splits `flat` into float32 tensors shaped like `like`, in order (copies,
 * so `flat` may be reused afterwards). The caller disposes the result.
 */
export function unflattenLike(flat: Float32Array, like: readonly tf.Tensor[]): tf.Tensor[] {
  const n = totalSize(like);
  if (flat.length !== n) throw new DatError(`unflattenLike: buffer has ${flat.length} elements, tensors need ${n}`, { retryable: false });
  const out: tf.Tensor[] = [];
  let off = 0;
  for (const t of like) {
    // slice, not subarray: the CPU backend keeps the array it is given, so a view would alias `flat`.
    out.push(tf.tensor(flat.slice(off, off + t.size), t.shape, 'float32'));
    off += t.size;
  }
  return out;
}

/** All values of `vars` as one flat array (for the broadcast and checkpoints). */
export function readWeights(vars: readonly tf.Variable[]): Promise<Float32Array> {
  return flattenTensors(vars);
}

/** Assigns `flat` (as produced by {@link readWeights}) back into `vars`. */
export function writeWeights(vars: readonly tf.Variable[], flat: Float32Array): void {
  const n = totalSize(vars);
  if (flat.length !== n) throw new DatError(`writeWeights: buffer has ${flat.length} elements, variables need ${n}`, { retryable: false });
  tf.tidy(() => {
    let off = 0;
    for (const v of vars) {
      v.assign(tf.tensor(flat.slice(off, off + v.size), v.shape, v.dtype));
      off += v.size;
    }
  });
}
