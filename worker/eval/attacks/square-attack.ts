/**
 * Square Attack, L-inf (Andriushchenko et al., ECCV 2020), the score-based
 * black-box member of the standard AutoAttack ensemble (5,000 queries,
 * p_init 0.8, margin loss), as AutoAttack runs it:
 *
 * 1. Start at clip(x + eps · s, 0, 1) with s ∈ {−1, +1} per example, channel and
 *    column (vertical stripes); margin m = z_y − max_{j≠y} z_j.
 * 2. Each query i on the examples with m > 0: a square of side
 *    round(√(p_i · h·w)) (p_i halving on AutoAttack's schedule) at a random
 *    position; its pixels move by ±2·eps per channel (random sign) from the
 *    current best point, then project onto the eps-ball and [0, 1].
 * 3. Keep the new point where the margin decreased (or turned ≤ 0).
 *
 * Random draws come from a seeded generator, so a seed gives one result.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../common/errors.js';
import { Rng } from '../../util/rng.js';
import { yieldToEventLoop } from '../../util/yield-to-event-loop.js';
import { projectIntoBox } from '../../train/attacks/sign-step.js';
import { eagerOps } from '../../train/numerics/eager-ops.js';
import { marginLoss } from './margin-losses.js';
import { boundsOf, checkBatch, checkEps, checkInt, logitsOf } from './types.js';

/** Settings of Square; defaults are the standard version's. */
export interface SquareOptions {
  /** @default 5000 */
  readonly queries?: number;
  /** Initial fraction of pixels in the square. @default 0.8 */
  readonly pInit?: number;
  /** Called after each query with the number of examples still unbroken (progress). */
  readonly onQuery?: (query: number, remaining: number) => void;
}

/** The square's fraction of pixels at query `i` of `queries` (AutoAttack's schedule, rescaled to 10,000 queries). */
export function squareFraction(i: number, queries: number, pInit: number): number {
  const it = Math.floor((i / queries) * 10_000);
  const cuts: readonly [number, number][] = [
    [8000, 512],
    [6000, 256],
    [4000, 128],
    [2000, 64],
    [1000, 32],
    [500, 16],
    [200, 8],
    [50, 4],
    [10, 2],
  ];
  for (const [above, div] of cuts) if (it > above) return pInit / div;
  return pInit;
}

/** Step 1's vertical-stripe start. */
function stripeStart(x: tf.Tensor4D, eps: number, rng: Rng): tf.Tensor4D {
  const [n, , w, c] = x.shape;
  const signs = new Float32Array(n * w * c).map(() => (rng.next() < 0.5 ? -eps : eps));
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(signs, [n, 1, w, c])), 0, 1) as tf.Tensor4D);
}

/** Step 2's perturbation: zero outside a random s×s square, ±2·eps per channel inside. */
function squareDelta(h: number, w: number, c: number, p: number, eps: number, rng: Rng): tf.Tensor4D {
  const s = Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), h - 1);
  const vh = rng.nextInt(h - s + 1);
  const vw = rng.nextInt(w - s + 1);
  const perChannel = Array.from({ length: c }, () => (rng.next() < 0.5 ? -2 * eps : 2 * eps));
  const d = new Float32Array(h * w * c);
  for (let i = vh; i < vh + s; i++) for (let j = vw; j < vw + s; j++) for (let k = 0; k < c; k++) d[(i * w + j) * c + k] = perChannel[k]!;
  return tf.tensor4d(d, [1, h, w, c]);
}

/** Square on every example of the batch; see the module comment. */
export async function squareAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, seed: number, o: SquareOptions = {}): Promise<tf.Tensor4D> {
  const queries = o.queries ?? 5000;
  const pInit = o.pInit ?? 0.8;
  checkEps('square', eps);
  checkInt('square', 'queries', queries, 1);
  if (!(pInit > 0 && pInit <= 1)) throw new ConfigError(`attack square: pInit must be a fraction in (0, 1], got ${pInit}`);
  checkBatch('square', x, y);
  const [n, h, w, c] = x.shape;
  const rng = new Rng(seed);
  const bounds = boundsOf(x, eps);
  // Step 1
  let best = stripeStart(x, eps, rng);
  const startMargin = tf.tidy(() => marginLoss(logitsOf(model, best), y));
  const margin = Float32Array.from(startMargin.dataSync());
  startMargin.dispose();
  for (let q = 0; q < queries; q++) {
    await yieldToEventLoop();
    const active = Array.from(margin, (m) => (m > 0 ? 1 : 0));
    const idx = active.flatMap((a, i) => (a === 1 ? [i] : []));
    if (idx.length === 0) break;
    // Step 2
    const delta = squareDelta(h, w, c, squareFraction(q, queries, pInit), eps, rng);
    const [cand, candMargin] = tf.tidy(() => {
      const ids = tf.tensor1d(idx, 'int32');
      const lo = tf.gather(bounds.lo, ids) as tf.Tensor4D;
      const hi = tf.gather(bounds.hi, ids) as tf.Tensor4D;
      const xNew = projectIntoBox(eagerOps, tf.add(tf.gather(best, ids), delta), { lo, hi }) as tf.Tensor4D;
      return [xNew, marginLoss(logitsOf(model, xNew), tf.gather(y, ids) as tf.Tensor1D)] as const;
    });
    delta.dispose();
    const m = candMargin.dataSync();
    // Step 3
    const take = new Uint8Array(n);
    const pos: number[] = [];
    idx.forEach((i, j) => {
      if (m[j]! < margin[i]! || m[j]! <= 0) {
        take[i] = 1;
        margin[i] = m[j]!;
        pos.push(j);
      }
    });
    if (pos.length > 0) {
      const prev = best;
      best = tf.tidy(() => {
        const rows = tf.tensor2d(pos.map((j) => idx[j]!), [pos.length, 1], 'int32');
        return tf.tensorScatterUpdate(prev, rows, tf.gather(cand, tf.tensor1d(pos, 'int32'))) as tf.Tensor4D;
      });
      prev.dispose();
    }
    tf.dispose([cand, candMargin]);
    o.onQuery?.(q + 1, idx.length);
  }
  tf.dispose([bounds.lo, bounds.hi]);
  return best;
}
