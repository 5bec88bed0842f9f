/**
 * The {@link StepEngine} over a backend's {@link CompiledStep} (the native
 * backend's TensorFlow graphs). The losses that are a weighted cross-entropy
 * run as the compiled loss gradient; the others (TRADES' KL term) have no
 * graph and run eagerly, so every loss works with either engine.
 */
import * as tf from '@tensorflow/tfjs';
import type { CompiledStep } from './compiled-step.js';
import { eagerLossGradients, type LossSpec, type StepEngine, type StepLossGrads } from './step-engine.js';

/**
 * The loss's gradient through the compiled step, for the losses that are a
 * weighted cross-entropy: `adv` is Σ CE(x_adv)/n, `adv-clean` adds λ·Σ CE(x)/n
 * as a second forward pass (as the eager code's second `model.apply`, which
 * matters for BatchNorm's batch statistics and moving averages). Undefined
 * for other losses.
 */
function compiledLossGradients(compiled: CompiledStep, spec: LossSpec, x: tf.Tensor4D, xAdv: tf.Tensor4D, y: tf.Tensor1D): StepLossGrads | undefined {
  const n = x.shape[0];
  let r;
  if (spec.loss === 'adv') r = compiled.weightedCrossEntropyGrads([{ x: xAdv, y, weight: tf.fill([n], 1 / n) as tf.Tensor1D }]);
  else if (spec.loss === 'adv-clean') {
    if (!Number.isFinite(spec.lambda) || spec.lambda < 0) return undefined; // computeLoss reports it
    const advWeight = tf.fill([n], 1 / n) as tf.Tensor1D;
    const cleanWeight = tf.fill([n], spec.lambda / n) as tf.Tensor1D;
    r =
      xAdv === x
        ? // No attack: the eager code runs one forward pass and uses its logits twice; so does one stacked branch.
          compiled.weightedCrossEntropyGrads([{ x: tf.concat([x, x]), y: tf.concat([y, y]), weight: tf.concat([advWeight, cleanWeight]) }])
        : compiled.weightedCrossEntropyGrads([
            { x: xAdv, y, weight: advWeight },
            { x, y, weight: cleanWeight },
          ]);
  } else return undefined;
  return { value: r.loss, grads: r.grads };
}

/** A step engine running `compiled`'s graphs (built for one model); it owns `compiled` and disposes it. */
export function compiledStepEngine(compiled: CompiledStep): StepEngine {
  return {
    execution: 'graph',
    signAttack: (_model, a) => compiled.signAttack(a),
    lossGradients: (model, spec, x, xAdv, y) => compiledLossGradients(compiled, spec, x, xAdv, y) ?? eagerLossGradients(model, spec, x, xAdv, y),
    optimizerUpdate: (a) => compiled.optimizerUpdate(a),
    dispose: () => compiled.dispose(),
  };
}
