/**
 * Test helpers: run the same computation on the cpu backend and on wasm (with
 * this project's kernels) and compare the results.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { silentLogger } from '../../../worker/util/log.js';

/** Activates wasm once (registering the training kernels), then leaves cpu as a neutral default. */
export async function initBackends(): Promise<void> {
  await selectBackend('wasm', silentLogger);
  await selectBackend('cpu', silentLogger);
}

/** Runs `fn` on `backend` and copies every output tensor out (then disposes them). */
export async function runOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const list = Array.isArray(outs) ? outs : [outs];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

/** Largest |a-b| and largest |a| over paired arrays (throws on a length mismatch). */
export function maxAbsDiff(want: readonly Float32Array[], got: readonly Float32Array[]): { diff: number; scale: number } {
  if (want.length !== got.length) throw new Error(`output count differs: want ${want.length}, got ${got.length}`);
  let diff = 0;
  let scale = 0;
  want.forEach((w, i) => {
    const g = got[i];
    if (g === undefined || g.length !== w.length) throw new Error(`output ${i} size differs: want ${w.length}, got ${g?.length}`);
    for (let j = 0; j < w.length; j++) {
      const wj = w[j] ?? NaN;
      const d = Math.abs(wj - (g[j] ?? NaN));
      // NaN never compares greater, so catch it explicitly.
      if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
      scale = Math.max(scale, Math.abs(wj));
    }
  });
  return { diff, scale };
}

/**
 * Float32 tolerance for comparing two summation orders: relative to the
 * largest magnitude, 1e-4 is ~1000 ulps, far below any indexing bug's error.
 */
export const REL_TOL = 1e-4;

/** Deterministic uniform [-1, 1) values. */
export function randomValues(shape: readonly number[], seed: number): tf.Tensor {
  return tf.randomUniform([...shape], -1, 1, 'float32', seed);
}
