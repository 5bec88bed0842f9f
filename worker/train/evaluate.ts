/**
 * Clean and PGD-robust accuracy of a model on a held-out split.
 *
 * Per batch:
 * 1. Clean logits → clean-correct mask.
 * 2. PGD (L-inf, or L2 for models trained with `pgd-l2`) from a random start,
 *    model in inference mode → adversarial-correct mask.
 * 3. An example counts as robust when it is correct on both: x itself lies in
 *    the eps-ball, so a clean mistake is also an adversarial one.
 *
 * Only the counts leave the device; every tensor is disposed per batch.
 */
import * as tf from '@tensorflow/tfjs';
import { pgdAttack, pgdL2Attack, type AttackParams } from './attacks/index.js';
import type { StepEngine } from './step-engine.js';
import type { Split } from '../data/types.js';
import { deriveSeed } from '../util/rng.js';
import { yieldToEventLoop } from '../util/yield-to-event-loop.js';

/** Attacks the evaluation can use. */
export const EVAL_ATTACKS = ['pgd', 'pgd-l2'] as const;
export type EvalAttackId = (typeof EVAL_ATTACKS)[number];

/** Examples per evaluation batch: large enough to keep matmuls efficient, small enough for wasm memory. */
export const EVAL_BATCH_SIZE = 256;

/** Madry et al.'s step size rule: the steps together can cross the ball 2.5 times. */
export function defaultEvalStepSize(eps: number, steps: number): number {
  return (2.5 * eps) / steps;
}

/** Options of {@link evaluateCounts}. */
export interface EvaluateOptions {
  /** @default 'pgd' */
  readonly attack?: EvalAttackId;
  readonly eps: number;
  readonly steps: number;
  /** @default 2.5 * eps / steps */
  readonly stepSize?: number;
  /** @default 1 */
  readonly restarts?: number;
  /** @default true */
  readonly randomStart?: boolean;
  readonly seed: number;
  /** @default {@link EVAL_BATCH_SIZE} */
  readonly batchSize?: number;
  /** Use at most the first N examples (0 or undefined = all). */
  readonly limit?: number;
  /** Evaluate only the examples i with i % worldSize == rank (the caller sums the counts over ranks). */
  readonly shard?: { readonly rank: number; readonly worldSize: number };
  /** [h, w, c] of one example. */
  readonly inputShape: readonly [number, number, number];
  /** The run's step engine, which runs the L-inf attack (op by op, or as a graph); eager when not given. */
  readonly engine?: StepEngine;
}

/** Raw counts, summable across ranks. */
export interface EvalCounts {
  readonly n: number;
  readonly cleanCorrect: number;
  readonly robustCorrect: number;
}

/** Accuracies as fractions, with the attack that measured the robust one. */
export interface EvalResult {
  readonly n: number;
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  readonly attack: { readonly name: EvalAttackId; readonly eps: number; readonly steps: number; readonly restarts: number; readonly stepSize: number };
}

/** The example indices this call evaluates. */
function selectIndices(split: Split, opts: EvaluateOptions): number[] {
  const total = opts.limit !== undefined && opts.limit > 0 ? Math.min(opts.limit, split.n) : split.n;
  const out: number[] = [];
  const world = opts.shard?.worldSize ?? 1;
  const rank = opts.shard?.rank ?? 0;
  for (let i = rank; i < total; i += world) out.push(i);
  return out;
}

/** Resolved attack parameters of an evaluation. */
export function evalAttackParams(opts: EvaluateOptions): AttackParams {
  return {
    eps: opts.eps,
    steps: opts.steps,
    stepSize: opts.stepSize ?? defaultEvalStepSize(opts.eps, opts.steps),
    restarts: opts.restarts ?? 1,
    randomStart: opts.randomStart ?? true,
    seed: opts.seed,
  };
}

/** Counts clean- and robust-correct examples of `split` (see the module comment). */
export async function evaluateCounts(model: tf.LayersModel, split: Split, opts: EvaluateOptions): Promise<EvalCounts> {
  const indices = selectIndices(split, opts);
  const params = evalAttackParams(opts);
  const attack = (opts.attack ?? 'pgd') === 'pgd-l2' ? pgdL2Attack : pgdAttack;
  const batchSize = opts.batchSize ?? EVAL_BATCH_SIZE;
  const [h, w, c] = opts.inputShape;
  const size = h * w * c;
  let cleanCorrect = 0;
  let robustCorrect = 0;
  for (let b = 0; b * batchSize < indices.length; b++) {
    const idx = indices.slice(b * batchSize, (b + 1) * batchSize);
    const xs = new Float32Array(idx.length * size);
    const ys = new Int32Array(idx.length);
    idx.forEach((src, i) => {
      xs.set(split.x.subarray(src * size, (src + 1) * size), i * size);
      ys[i] = split.y[src]!;
    });
    const counts = tf.tidy(() => {
      const x = tf.tensor4d(xs, [idx.length, h, w, c]);
      const y = tf.tensor1d(ys, 'int32');
      // Step 1
      const cleanOk = tf.equal(tf.argMax(model.apply(x, { training: false }) as tf.Tensor2D, 1).toInt(), y);
      // Step 2
      const xAdv = attack(model, x, y, { ...params, seed: deriveSeed(opts.seed, b) || 1 }, opts.engine);
      const advOk = tf.equal(tf.argMax(model.apply(xAdv, { training: false }) as tf.Tensor2D, 1).toInt(), y);
      // Step 3
      return tf.stack([tf.sum(cleanOk.toInt()), tf.sum(tf.logicalAnd(cleanOk, advOk).toInt())]);
    });
    const [clean, robust] = await counts.data();
    counts.dispose();
    cleanCorrect += clean!;
    robustCorrect += robust!;
    // data() resolves without a macrotask on the native backend: let peers, /progress and signals through.
    await yieldToEventLoop();
  }
  return { n: indices.length, cleanCorrect, robustCorrect };
}

/** Turns (possibly summed) counts into fractions. */
export function toEvalResult(counts: EvalCounts, opts: EvaluateOptions): EvalResult {
  const p = evalAttackParams(opts);
  const n = Math.max(counts.n, 1);
  return {
    n: counts.n,
    cleanAccuracy: counts.cleanCorrect / n,
    robustAccuracy: counts.robustCorrect / n,
    attack: { name: opts.attack ?? 'pgd', eps: p.eps, steps: p.steps, restarts: p.restarts, stepSize: p.stepSize },
  };
}

/** Clean and robust accuracy of `model` on `split` in this process. */
export async function evaluate(model: tf.LayersModel, split: Split, opts: EvaluateOptions): Promise<EvalResult> {
  return toEvalResult(await evaluateCounts(model, split, opts), opts);
}
