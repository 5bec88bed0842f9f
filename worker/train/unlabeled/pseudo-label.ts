/**
 * Robust self-training's labeling step (Carmon et al. 2019; DAT trains on
 * labeled plus pseudo-labeled data):
 *
 * 1. Train a teacher of the same architecture with standard (clean) training
 *    on the labeled part, for `epochs` epochs.
 * 2. Predict the unlabeled part with it (argmax of the logits).
 * 3. Return the labels and the teacher's weights (the checkpoint keeps both:
 *    state/teacher-part.ts).
 *
 * Runs in this process only (no all-reduce): every rank trains the same
 * teacher from the same seed, and the caller may broadcast rank 0's labels to
 * rule out any divergence.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelId } from '../../../common/contract.js';
import type { Split } from '../../data/types.js';
import { batchIndices, stepsPerEpoch } from '../../data/shard.js';
import { gatherBatch } from '../../data/split-ops.js';
import type { Logger } from '../../../common/log.js';
import { deriveSeed } from '../../util/rng.js';
import { ConfigError } from '../../../common/errors.js';
import { createModel } from '../models/index.js';
import { createOptimizer } from '../optimizers/index.js';
import { eagerStepEngine } from '../step-engine.js';
import { applyGradients, computeGradients, type StepConfig } from '../train-step.js';
import { modelVariables, readWeights } from '../variables.js';

/** Teacher optimizer: Adam at a rate that trains all our models reliably without tuning. */
export const TEACHER_LR = 1e-3;
/** Purpose tag mixed into the seed so the teacher's weights differ from the student's. */
const TEACHER_SEED_TAG = 0x7eac_4e12;
/** Examples per prediction batch. */
const PREDICT_BATCH = 512;

/** Options of {@link pseudoLabel}. */
export interface PseudoLabelOptions {
  readonly labeled: Split;
  readonly unlabeled: Split;
  readonly model: ModelId;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly log: Logger;
}

/** What {@link pseudoLabel} returns. */
export interface PseudoLabels {
  /** One class index per unlabeled example. */
  readonly labels: Int32Array;
  /** The teacher's variables, flat in `model.weights` order. */
  readonly teacherWeights: Float32Array;
}

/** Labels for `unlabeled` predicted by a teacher trained on `labeled` (see the module comment). */
export async function pseudoLabel(opts: PseudoLabelOptions): Promise<PseudoLabels> {
  const { labeled, unlabeled, inputShape } = opts;
  const batchSize = Math.min(opts.batchSize, labeled.n);
  const steps = stepsPerEpoch(labeled.n, 1, batchSize);
  if (steps === 0) throw new ConfigError(`teacher: no labeled examples to train on`);
  const seed = deriveSeed(opts.seed, TEACHER_SEED_TAG);
  const teacher = createModel(opts.model, inputShape, opts.numClasses, seed);
  const optimizer = createOptimizer('adam', { weightDecay: 0, momentum: 0 });
  const cfg: StepConfig = {
    attack: 'none',
    attackParams: { eps: 0, steps: 0, stepSize: 0, restarts: 1, randomStart: false, seed },
    loss: 'adv',
    lambda: 0,
    beta: 0,
    numClasses: opts.numClasses,
    inputShape,
  };
  try {
    const t0 = performance.now();
    let lastLoss = NaN;
    // Step 1
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      for (let s = 0; s < steps; s++) {
        const batch = gatherBatch(labeled, batchIndices(labeled.n, epoch, s, seed, 0, 1, batchSize));
        const { flatGrad, loss } = await computeGradients(teacher, batch, cfg, seed, eagerStepEngine);
        applyGradients(teacher, optimizer, flatGrad, TEACHER_LR, eagerStepEngine);
        lastLoss = loss;
      }
    }
    // Step 2
    const labels = new Int32Array(unlabeled.n);
    const [h, w, c] = inputShape;
    const size = h * w * c;
    for (let start = 0; start < unlabeled.n; start += PREDICT_BATCH) {
      const n = Math.min(PREDICT_BATCH, unlabeled.n - start);
      const pred = tf.tidy(() => {
        const x = tf.tensor4d(unlabeled.x.subarray(start * size, (start + n) * size), [n, h, w, c]);
        return tf.argMax(teacher.apply(x, { training: false }) as tf.Tensor2D, 1).toInt();
      });
      labels.set(await pred.data(), start);
      pred.dispose();
    }
    opts.log.info('Pseudo-labeled unlabeled examples with a teacher', {
      labeled: labeled.n,
      unlabeled: unlabeled.n,
      teacherEpochs: opts.epochs,
      teacherLoss: Number(lastLoss.toFixed(4)),
      ms: Math.round(performance.now() - t0),
    });
    // Step 3
    return { labels, teacherWeights: await readWeights(modelVariables(teacher)) };
  } finally {
    optimizer.dispose();
    teacher.dispose();
  }
}
