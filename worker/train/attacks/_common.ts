/** Building blocks shared by the attacks: argument checks, projections, restarts. */
import * as tf from '@tensorflow/tfjs';
import type { AttackId } from '../../../common/contract.js';
import { ConfigError, DatError } from '../../../common/errors.js';
import { deriveSeed } from '../../util/rng.js';
import { crossEntropyPerExample } from '../losses.js';
import { eagerOps } from '../numerics/eager-ops.js';
import type { StepEngine } from '../step-engine.js';
import { linfBox, noisyStart, signStep, type LinfBox } from './sign-step.js';
import type { AttackParams } from './types.js';

/** The model's logits with BatchNorm in inference mode (running statistics). */
export function inferenceLogits(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return model.apply(x, { training: false }) as tf.Tensor2D;
}

/** Per-example CE of the model on `x`, the quantity the CE attacks maximize. */
export function crossEntropyOf(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => crossEntropyPerExample(inferenceLogits(model, x), y));
}

/** Gradient of Σ_i loss_i(x) with respect to x. */
export function inputGradient(lossPerExample: (x: tf.Tensor4D) => tf.Tensor1D, x: tf.Tensor4D): tf.Tensor4D {
  return tf.grad((xi: tf.Tensor) => tf.sum(lossPerExample(xi as tf.Tensor4D)))(x) as tf.Tensor4D;
}

/** Per-pixel bounds of the L-inf ball around x intersected with [0, 1] (sign-step.ts). */
export type LinfBounds = LinfBox<tf.Tensor4D>;

/** The bounds max(x − eps, 0) and min(x + eps, 1), computed once per attack (sign-step.ts's linfBox, eagerly). */
export function linfBounds(x: tf.Tensor4D, eps: number): LinfBounds {
  return linfBox(eagerOps, x, eagerOps.scalar(eps)) as LinfBounds;
}

/** x_adv + stepSize · sign(grad), clamped into `bounds` (sign-step.ts's signStep, eagerly). */
export function signStepLinf(xAdv: tf.Tensor4D, grad: tf.Tensor4D, stepSize: number, bounds: LinfBounds): tf.Tensor4D {
  return signStep<tf.Tensor>(eagerOps, xAdv, grad, eagerOps.scalar(stepSize), bounds) as tf.Tensor4D;
}

/** x + `noise`, clamped into `bounds` (sign-step.ts's noisyStart, eagerly). */
export function noisyStartLinf(x: tf.Tensor4D, noise: tf.Tensor, bounds: LinfBounds): tf.Tensor4D {
  return noisyStart<tf.Tensor>(eagerOps, x, noise, bounds) as tf.Tensor4D;
}

/** The random start of FGSM-RS and PGD: x + U[−eps, eps] (seeded per restart), clamped into `bounds`. */
export function uniformStart(x: tf.Tensor4D, eps: number, seed: number, restart: number, bounds: LinfBounds): tf.Tensor4D {
  return noisyStartLinf(x, tf.randomUniform(x.shape, -eps, eps, 'float32', attackSeed(seed, restart)), bounds);
}

/** Per-example L2 norm of a batch, shaped [n, 1, 1, 1] for broadcasting. */
export function l2NormPerExample(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const n = t.shape[0];
    return tf.sqrt(tf.sum(tf.square(tf.reshape(t, [n, -1])), 1)).reshape([n, 1, 1, 1]) as tf.Tensor4D;
  });
}

// Guards a division by a zero norm (a zero gradient or perturbation stays zero).
const NORM_FLOOR = 1e-12;

/**
 * Projects `xAdv` onto the L2 ball of radius eps around x (per example), then
 * clips to [0, 1]. Clipping moves every coordinate towards x's (which is in
 * [0, 1]), so it never leaves the ball.
 */
export function projectL2(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub<tf.Tensor4D>(xAdv, x);
    const factor = tf.minimum(1, tf.div(eps, tf.add(l2NormPerExample(delta), NORM_FLOOR)));
    return tf.clipByValue(tf.add(x, tf.mul(delta, factor)), 0, 1) as tf.Tensor4D;
  });
}

/** `t / ‖t‖₂` per example (zero where t is zero). */
export function normalizeL2(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(t, tf.add(l2NormPerExample(t), NORM_FLOOR)) as tf.Tensor4D);
}

/**
 * A non-zero seed for tfjs random ops from (seed, parts). tfjs treats seed 0
 * as "unseeded" and falls back to Math.random, which would break reproducibility.
 */
export function attackSeed(seed: number, ...parts: number[]): number {
  return deriveSeed(seed, ...parts) || 1;
}

/**
 * Runs `step` `steps` times from `start`, disposing each intermediate point
 * as soon as the next exists, so memory stays flat however many steps run.
 * Takes ownership of `start`.
 */
export function iterate(start: tf.Tensor4D, steps: number, step: (xAdv: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D {
  let cur = start;
  for (let s = 0; s < steps; s++) {
    const prev = cur;
    cur = tf.tidy(() => step(prev));
    prev.dispose();
  }
  return cur;
}

/** What {@link signSteps} iterates. */
export interface SignStepParams {
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
}

/**
 * The L-inf sign iteration of FGSM, FGSM-RS and PGD: `steps` times
 * x_adv ← clamp(x_adv + stepSize · sign(∇ₓ Σ CE)) into the L-inf ball around
 * x and [0, 1], from `start` (which the caller keeps owning), run by `engine`
 * (op by op, or as one compiled graph).
 */
export function signSteps(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, start: tf.Tensor4D, p: SignStepParams, engine: StepEngine): tf.Tensor4D {
  return engine.signAttack(model, { x, y, start, eps: p.eps, stepSize: p.stepSize, steps: p.steps });
}

/**
 * Random restarts: runs `runOnce(r)` for r = 0..restarts-1 and keeps, per
 * example, the candidate with the highest `lossPerExample` (the first one on
 * ties, so restart 0 alone equals a single-restart run).
 */
export function bestOfRestarts(
  restarts: number,
  runOnce: (restart: number) => tf.Tensor4D,
  lossPerExample: (xAdv: tf.Tensor4D) => tf.Tensor1D,
): tf.Tensor4D {
  let best = tf.tidy(() => runOnce(0));
  if (restarts <= 1) return best;
  let bestLoss = lossPerExample(best);
  for (let r = 1; r < restarts; r++) {
    const cand = tf.tidy(() => runOnce(r));
    const prevBest = best;
    const prevLoss = bestLoss;
    [best, bestLoss] = tf.tidy(() => {
      const candLoss = lossPerExample(cand);
      const better = tf.greater(candLoss, prevLoss);
      const mask = tf.broadcastTo(tf.reshape(better, [better.shape[0], 1, 1, 1]), cand.shape);
      return [tf.where(mask, cand, prevBest), tf.where(better, candLoss, prevLoss)] as [tf.Tensor4D, tf.Tensor1D];
    });
    tf.dispose([cand, prevBest, prevLoss]);
  }
  bestLoss.dispose();
  return best;
}

/** Which {@link AttackParams} fields an attack reads (the others are ignored and not checked). */
export type AttackParamName = keyof AttackParams;

function fail(attack: AttackId, name: AttackParamName, want: string, got: unknown): never {
  throw new ConfigError(`attack ${attack}: ${name} must be ${want}, got ${String(got)}`);
}

/** Checks the named fields of `p` for `attack`; throws a ConfigError naming both. */
export function checkParams(attack: AttackId, p: AttackParams, names: readonly AttackParamName[]): void {
  for (const name of names) {
    const v = p[name];
    switch (name) {
      case 'eps':
      case 'stepSize':
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(attack, name, 'a finite number > 0', v);
        break;
      case 'steps':
      case 'restarts':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(attack, name, 'an integer >= 1', v);
        break;
      case 'seed':
        if (typeof v !== 'number' || !Number.isInteger(v)) fail(attack, name, 'an integer', v);
        break;
      case 'randomStart':
        if (typeof v !== 'boolean') fail(attack, name, 'a boolean', v);
        break;
    }
  }
}

/** Checks x is a batch [n, h, w, c] and y holds n int32 labels. */
export function checkInputs(attack: AttackId, x: tf.Tensor, y: tf.Tensor): void {
  if (x.rank !== 4) throw new DatError(`attack ${attack}: x must be a rank-4 batch [n, h, w, c], got shape [${x.shape.join(', ')}]`, { retryable: false });
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new DatError(`attack ${attack}: y must hold ${x.shape[0]} labels, got shape [${y.shape.join(', ')}]`, { retryable: false });
  }
  if (y.dtype !== 'int32') throw new DatError(`attack ${attack}: y must be int32 class labels, got ${y.dtype}`, { retryable: false });
}
