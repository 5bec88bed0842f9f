/**
 * How the hot parts of a training step run (attack, loss gradient, optimizer
 * update), chosen once per run at setup: {@link eagerStepEngine} runs them
 * op by op in tfjs; compiled-step-engine.ts runs them as a backend's compiled
 * graphs (compiled-step.ts). Both compute the same arithmetic: the update
 * rules and the L-inf step are single definitions (optimizers/update-rules.ts,
 * attacks/sign-step.ts) that both lower.
 *
 * Methods are synchronous and may run inside `tf.tidy`; the tensors they
 * return belong to the caller.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossId } from '../../common/contract.js';
import { crossEntropyOf, inputGradient, iterate } from './attacks/_common.js';
import { linfBox, signStep } from './attacks/sign-step.js';
import type { OptimizerUpdateArgs, OptimizerUpdater, OptimizerUpdateResult, SignAttackArgs } from './compiled-step.js';
import { computeLoss } from './losses.js';
import { eagerOps } from './numerics/eager-ops.js';
import { ruleSlotKinds } from './optimizers/types.js';
import { applyUpdateRule, ruleScalarInputs, ruleScalars } from './optimizers/update-rules.js';
import { trainableVariables } from './variables.js';

/** The loss a step minimizes (the StepConfig fields the loss reads). */
export interface LossSpec {
  readonly loss: LossId;
  readonly lambda: number;
  readonly beta: number;
  readonly numClasses: number;
}

/** The training loss and its gradients, one per trainable weight in `model.trainableWeights` order (undefined: the loss does not depend on it). */
export interface StepLossGrads {
  readonly value: tf.Scalar;
  readonly grads: (tf.Tensor | undefined)[];
}

/** See the module comment. */
export interface StepEngine extends OptimizerUpdater {
  /** `eager` or `graph`, for logs and benchmarks. */
  readonly execution: 'eager' | 'graph';
  /**
   * `steps` times x ← clamp(x + stepSize · sign(∇ₓ Σᵢ CE(f(x)ᵢ, yᵢ))) into
   * the L-inf ball around x and [0, 1], from `start`; `model` runs in
   * inference mode.
   */
  signAttack(model: tf.LayersModel, args: SignAttackArgs): tf.Tensor4D;
  /**
   * The loss `spec` of the model in training mode on `xAdv` (and on `x` for
   * the losses that also need the clean logits; `xAdv === x` without an
   * attack) and its gradients. A side effect, as `model.apply(…, { training:
   * true })` has: BatchNorm moving statistics are updated once per forward pass.
   */
  lossGradients(model: tf.LayersModel, spec: LossSpec, x: tf.Tensor4D, xAdv: tf.Tensor4D, y: tf.Tensor1D): StepLossGrads;
  /** Releases what the engine holds (compiled graphs). */
  dispose(): void;
}

/** Losses that also need the model's logits on the clean inputs. */
const NEEDS_CLEAN_LOGITS: ReadonlySet<LossId> = new Set<LossId>(['adv-clean', 'trades']);

/** The eager L-inf sign iteration; see {@link StepEngine.signAttack}. */
function eagerSignAttack(model: tf.LayersModel, a: SignAttackArgs): tf.Tensor4D {
  const o = eagerOps;
  const loss = (xi: tf.Tensor4D): tf.Tensor1D => crossEntropyOf(model, xi, a.y);
  return tf.tidy(() => {
    const box = linfBox(o, a.x, o.scalar(a.eps));
    const stepSize = o.scalar(a.stepSize);
    return iterate(tf.clone(a.start), a.steps, (xAdv) => signStep(o, xAdv, inputGradient(loss, xAdv), stepSize, box) as tf.Tensor4D);
  });
}

/** The eager loss gradient (tf.variableGrads); see {@link StepEngine.lossGradients}. */
export function eagerLossGradients(model: tf.LayersModel, spec: LossSpec, x: tf.Tensor4D, xAdv: tf.Tensor4D, y: tf.Tensor1D): StepLossGrads {
  const vars = trainableVariables(model);
  const { value, grads } = tf.variableGrads(() => {
    const logitsAdv = model.apply(xAdv, { training: true }) as tf.Tensor2D;
    const logitsClean = NEEDS_CLEAN_LOGITS.has(spec.loss) ? (xAdv === x ? logitsAdv : (model.apply(x, { training: true }) as tf.Tensor2D)) : undefined;
    return computeLoss(spec.loss, { logitsAdv, logitsClean, labels: y, numClasses: spec.numClasses, lambda: spec.lambda, beta: spec.beta });
  }, vars);
  return { value, grads: vars.map((v) => grads[v.name]) };
}

/** The eager optimizer update: {@link applyUpdateRule} on tensors, variable by variable. */
function eagerOptimizerUpdate(a: OptimizerUpdateArgs): OptimizerUpdateResult {
  const o = eagerOps;
  const kinds = ruleSlotKinds(a.rule);
  // In double, then rounded to float32 (as the compiled update feeds them).
  const values = ruleScalars(a.rule, a.step, a.lr);
  const scalars = ruleScalarInputs(a.rule, (name) => o.scalar(values[name]!));
  const vars: tf.Tensor[] = [];
  const slots: tf.Tensor[][] = kinds.map(() => []);
  a.vars.forEach((w, i) => {
    const out = applyUpdateRule(o, a.rule, { w, g: a.grads[i]!, slots: Object.fromEntries(kinds.map((k, j) => [k, a.slots[j]![i]!])), ...scalars });
    vars.push(out.w);
    kinds.forEach((k, j) => slots[j]!.push(out.slots[k]!));
  });
  return { vars, slots };
}

/** Every part of the step op by op in tfjs, on any backend. Stateless: one instance serves every model. */
export const eagerStepEngine: StepEngine = {
  execution: 'eager',
  signAttack: eagerSignAttack,
  lossGradients: eagerLossGradients,
  optimizerUpdate: eagerOptimizerUpdate,
  dispose: () => undefined,
};
