/**
 * The logit-margin losses of the AutoAttack ensemble (Croce & Hein, ICML 2020):
 * the untargeted and targeted DLR losses of APGD, and the margin loss of
 * Square. Synchronous tensor math; call inside `tf.tidy` or a gradient function.
 */
import * as tf from '@tensorflow/tfjs';

// Keeps DLR finite when the top logits tie (as in the paper's code).
const DLR_FLOOR = 1e-12;

/** z_y per example [n]. */
function trueLogit(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, tf.oneHot(y, logits.shape[1]).toFloat()), 1) as tf.Tensor1D;
}

/** max_{j != y} z_j per example [n]. */
export function bestOtherLogit(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const mask = tf.oneHot(y, logits.shape[1]).toFloat();
    // Push the true class far below every other logit so max ignores it.
    return tf.max(tf.sub(logits, tf.mul(mask, 1e9)), 1) as tf.Tensor1D;
  });
}

/**
 * The k largest logits per example, descending [n, k], by repeated max and
 * masking: tfjs has no gradient for TopK, and the DLR losses must be
 * differentiated through these values.
 */
function topLogits(logits: tf.Tensor2D, k: number): tf.Tensor2D {
  const cols: tf.Tensor[] = [];
  let rest: tf.Tensor2D = logits;
  for (let i = 0; i < k; i++) {
    cols.push(tf.max(rest, 1, true));
    if (i + 1 < k) rest = tf.sub(rest, tf.mul(tf.oneHot(tf.argMax(rest, 1), logits.shape[1]).toFloat(), 1e9));
  }
  return tf.concat(cols, 1) as tf.Tensor2D;
}

/**
 * Untargeted DLR: −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3), π the logits sorted
 * in decreasing order. Invariant to shifting and scaling the logits.
 */
export function dlrLoss(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const top = topLogits(logits, 3);
    const num = tf.sub(trueLogit(logits, y), bestOtherLogit(logits, y));
    const den = tf.add(tf.sub(top.slice([0, 0], [-1, 1]), top.slice([0, 2], [-1, 1])).reshape([-1]), DLR_FLOOR);
    return tf.neg(tf.div(num, den)) as tf.Tensor1D;
  });
}

/** Targeted DLR: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4) / 2). Needs at least 4 classes. */
export function targetedDlrLoss(logits: tf.Tensor2D, y: tf.Tensor1D, target: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const top = topLogits(logits, 4);
    const num = tf.sub(trueLogit(logits, y), trueLogit(logits, target));
    const third = top.slice([0, 2], [-1, 1]);
    const fourth = top.slice([0, 3], [-1, 1]);
    const den = tf.add(tf.sub(top.slice([0, 0], [-1, 1]), tf.mul(0.5, tf.add(third, fourth))).reshape([-1]), DLR_FLOOR);
    return tf.neg(tf.div(num, den)) as tf.Tensor1D;
  });
}

/** Square's margin loss: z_y − max_{j≠y} z_j (≤ 0 means misclassified). */
export function marginLoss(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(trueLogit(logits, y), bestOtherLogit(logits, y)) as tf.Tensor1D);
}

/**
 * The class at position `rank` (1 = second largest) of the logits sorted in
 * decreasing order [n]: how AutoAttack picks the targets of APGD-T and FAB-T
 * from the clean logits (ranks 1..9 of a correctly classified point are the
 * 9 non-true classes).
 */
export function rankedClass(logits: tf.Tensor2D, rank: number): tf.Tensor1D {
  return tf.tidy(() => tf.topk(logits, rank + 1, true).indices.slice([0, rank], [-1, 1]).reshape([-1]) as tf.Tensor1D);
}
