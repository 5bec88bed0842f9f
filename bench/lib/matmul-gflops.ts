/**
 * The machine's dense matrix-multiply throughput on the current TensorFlow.js
 * backend: the yardstick other benchmarks compare their effective GFLOP/s to.
 */
import type * as tfNs from '@tensorflow/tfjs';

/** Options of {@link measureMatmulGflops}. */
export interface MatmulGflopsOptions {
  /** Square matrix sizes to try. @default [512, 1024] */
  readonly sizes?: readonly number[];
  /** Timed repetitions per size (after one warm-up); the best counts. @default 5 */
  readonly reps?: number;
}

/** Result: best GFLOP/s over all sizes and repetitions, plus the per-size best. */
export interface MatmulGflops {
  readonly backend: string;
  readonly bestGflops: number;
  readonly bySize: readonly { readonly n: number; readonly gflops: number; readonly ms: number }[];
}

/**
 * Measures best-of GFLOP/s (2*n^3 per product) of an `n x n` float32 matMul
 * on `tf`'s current backend. Best-of rather than mean because the CPU is
 * shared: the fastest run is the closest to the machine's capacity.
 */
export async function measureMatmulGflops(tf: typeof tfNs, opts: MatmulGflopsOptions = {}): Promise<MatmulGflops> {
  const sizes = opts.sizes ?? [512, 1024];
  const reps = opts.reps ?? 5;
  const bySize: { n: number; gflops: number; ms: number }[] = [];
  for (const n of sizes) {
    const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
    let best = Infinity;
    for (let i = 0; i <= reps; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      const ms = performance.now() - t0;
      c.dispose();
      if (i > 0) best = Math.min(best, ms); // run 0 warms up (operator creation, weight packing)
    }
    tf.dispose([a, b]);
    bySize.push({ n, ms: best, gflops: (2 * n ** 3) / (best * 1e6) });
  }
  return { backend: tf.getBackend(), bestGflops: Math.max(...bySize.map((s) => s.gflops)), bySize };
}
