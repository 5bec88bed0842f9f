/**
 * Training losses on logits. All functions are synchronous tensor math; call
 * them inside `tf.tidy` (or a gradient function) and they leave nothing behind
 * but their result.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossId } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';

/** Inputs of {@link computeLoss}. */
export interface LossArgs {
  /** Logits on adversarial inputs [n, k]; required by every loss. */
  readonly logitsAdv?: tf.Tensor2D;
  /** Logits on clean inputs [n, k]; required by `adv-clean` and `trades`. */
  readonly logitsClean?: tf.Tensor2D;
  /** int32 class labels [n]. */
  readonly labels: tf.Tensor1D;
  readonly numClasses: number;
  /** Weight of the clean CE in `adv-clean`. @default 1 (DAT PGD mode) */
  readonly lambda: number;
  /** Weight of the KL term in `trades`. @default 6 */
  readonly beta: number;
}

/** Cross-entropy of softmax(logits) against integer labels, one value per example [n]. */
export function crossEntropyPerExample(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels.toInt(), logits.shape[1]).toFloat();
    return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/**
 * KL(softmax(p) ‖ softmax(q)) per example [n], from logits: Σ_k P_k (log P_k − log Q_k).
 * Log-softmax on both sides keeps it finite where a probability underflows.
 */
export function klDivergencePerExample(logitsP: tf.Tensor2D, logitsQ: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(logitsP);
    const logQ = tf.logSoftmax(logitsQ);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1) as tf.Tensor1D;
  });
}

function requireLogits(kind: LossId, name: 'logitsAdv' | 'logitsClean', t: tf.Tensor2D | undefined, args: LossArgs): tf.Tensor2D {
  if (t === undefined) throw new ConfigError(`loss ${kind}: ${name} is required`);
  if (t.rank !== 2 || t.shape[0] !== args.labels.shape[0] || t.shape[1] !== args.numClasses) {
    throw new ConfigError(`loss ${kind}: ${name} must have shape [${args.labels.shape[0]}, ${args.numClasses}], got [${t.shape.join(', ')}]`);
  }
  return t;
}

function requireWeight(kind: LossId, name: 'lambda' | 'beta', v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(`loss ${kind}: ${name} must be a finite number >= 0, got ${v}`);
  return v;
}

/**
 * The training loss, a scalar averaged over the batch:
 *
 * - `adv`: mean CE(logitsAdv, y).
 * - `adv-clean`: mean CE(logitsAdv, y) + lambda · mean CE(logitsClean, y)
 *   (DAT PGD mode, lambda = 1).
 * - `trades`: mean CE(logitsClean, y) + beta · KL(softmax clean ‖ softmax adv),
 *   the KL summed over classes and divided by the batch size ("batchmean"), as
 *   in `yaodongyu/TRADES: trades.py`. Gradients flow through both logits.
 */
export function computeLoss(kind: LossId, args: LossArgs): tf.Scalar {
  return tf.tidy(() => {
    switch (kind) {
      case 'adv': {
        const adv = requireLogits(kind, 'logitsAdv', args.logitsAdv, args);
        return tf.mean(crossEntropyPerExample(adv, args.labels));
      }
      case 'adv-clean': {
        const adv = requireLogits(kind, 'logitsAdv', args.logitsAdv, args);
        const clean = requireLogits(kind, 'logitsClean', args.logitsClean, args);
        const lambda = requireWeight(kind, 'lambda', args.lambda);
        return tf.add(tf.mean(crossEntropyPerExample(adv, args.labels)), tf.mul(lambda, tf.mean(crossEntropyPerExample(clean, args.labels))));
      }
      case 'trades': {
        const adv = requireLogits(kind, 'logitsAdv', args.logitsAdv, args);
        const clean = requireLogits(kind, 'logitsClean', args.logitsClean, args);
        const beta = requireWeight(kind, 'beta', args.beta);
        return tf.add(tf.mean(crossEntropyPerExample(clean, args.labels)), tf.mul(beta, tf.mean(klDivergencePerExample(clean, adv))));
      }
      default: {
        const unknown: never = kind;
        throw new ConfigError(`unknown loss ${String(unknown)}`);
      }
    }
  });
}
