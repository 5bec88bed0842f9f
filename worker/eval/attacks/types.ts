/** Shared types and helpers of the `dat eval` attacks. */
import * as tf from '@tensorflow/tfjs';
import { linfBounds, type LinfBounds } from '../../train/attacks/_common.js';
import { ConfigError, DatError } from '../../../common/errors.js';

/** Names accepted by `--attacks` (`autoattack` expands to the standard ensemble). */
export const EVAL_ATTACK_NAMES = ['pgd', 'apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;
export type EvalAttackName = (typeof EVAL_ATTACK_NAMES)[number];

/** The standard AutoAttack ensemble, in the order the paper runs it. */
export const AUTOATTACK_STANDARD: readonly EvalAttackName[] = ['apgd-ce', 'apgd-t', 'fab-t', 'square'];

/**
 * An evaluation attack: resolves to x_adv inside the L-inf eps-ball around x
 * and inside [0, 1], same shape as x; disposes everything but its result. The
 * ensemble counts an example as broken when f(x_adv) != y.
 *
 * Asynchronous because an attack on a batch can run for minutes: each
 * iteration lets the event loop run once, so a worker keeps answering its
 * ring peers (and their keepalive pings), /progress and signals meanwhile.
 * Each iteration's math stays synchronous, inside its own tf.tidy.
 */
export type EvalAttackFn = (model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, seed: number) => Promise<tf.Tensor4D>;

/** The model's logits in inference mode (BatchNorm uses running statistics). */
export function logitsOf(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return model.apply(x, { training: false }) as tf.Tensor2D;
}

/** Throws a ConfigError naming the attack when eps is not in (0, 1]. */
export function checkEps(attack: EvalAttackName, eps: number): void {
  if (!Number.isFinite(eps) || eps <= 0 || eps > 1) throw new ConfigError(`attack ${attack}: eps must be a number in (0, 1], got ${eps}`);
}

/** Throws a ConfigError naming the attack and option when `v` is not an integer >= min. */
export function checkInt(attack: EvalAttackName, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`attack ${attack}: ${name} must be an integer >= ${min}, got ${v}`);
}

/** Checks x is a batch [n, h, w, c] and y holds n int32 labels. */
export function checkBatch(attack: EvalAttackName, x: tf.Tensor, y: tf.Tensor): void {
  if (x.rank !== 4) throw new DatError(`attack ${attack}: x must be a rank-4 batch [n, h, w, c], got shape [${x.shape.join(', ')}]`, { retryable: false });
  if (y.rank !== 1 || y.shape[0] !== x.shape[0] || y.dtype !== 'int32') {
    throw new DatError(`attack ${attack}: y must hold ${x.shape[0]} int32 labels, got ${y.dtype} [${y.shape.join(', ')}]`, { retryable: false });
  }
}

/** Per-example "predicted class == y" as a 0/1 array (reads back synchronously). */
export function correctMask(logits: tf.Tensor2D, y: tf.Tensor1D): Uint8Array {
  const t = tf.tidy(() => tf.equal(tf.argMax(logits, 1).toInt(), y).toInt());
  const out = Uint8Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** A [n, 1, 1, 1] boolean mask from a 0/1 array, for tf.where over a batch. */
export function rowMask(mask: ArrayLike<number>, shape: readonly number[]): tf.Tensor {
  return tf.tidy(() => tf.broadcastTo(tf.tensor4d(Array.from(mask), [mask.length, 1, 1, 1], 'bool'), shape as number[]));
}

/** The L-inf ball ∩ [0, 1] bounds of x, without leaking intermediates; the caller disposes lo and hi. */
export function boundsOf(x: tf.Tensor4D, eps: number): LinfBounds {
  const [lo, hi] = tf.tidy(() => {
    const b = linfBounds(x, eps);
    return [b.lo, b.hi];
  });
  return { lo: lo!, hi: hi! };
}
