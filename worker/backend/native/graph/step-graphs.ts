/**
 * The two graphs a training step runs on the native backend:
 *
 * - the L-inf sign attack (PGD, and FGSM / FGSM-RS as its one-step case):
 *   `steps` times x ← clip(x + stepSize · sign(∇ₓ Σ CE(f(x), y)), lo, hi),
 *   unrolled, from a start point the caller computes (so its random draw
 *   stays the eager one);
 * - the weighted cross-entropy loss and its gradient with respect to every
 *   trainable weight: loss = Σᵢ wᵢ · CE(f(xᵢ), yᵢ), which is `adv`
 *   (wᵢ = 1/n) and `adv-clean` (adversarial and clean examples stacked,
 *   weights 1/n and λ/n).
 *
 * Both take the weights as inputs (never baked in), so one graph serves a
 * whole run. Pure: they return the encoded SavedModel.
 */
import { GraphBuilder } from './graph-def.js';
import { emitBackward, emitForward } from './model-graph.js';
import type { PlanLayer } from './sequential-plan.js';

const F32 = { type: 'float32' } as const;

/** Input and output tensor names of the attack graph. */
export const ATTACK_GRAPH = { x: 'x', y: 'y', start: 'start', eps: 'eps', stepSize: 'step_size', output: 'x_adv' } as const;

/** Input and output tensor names of the loss-gradient graph. */
export const LOSS_GRAD_GRAPH = { x: 'x', y: 'y', exampleWeight: 'example_weight', loss: 'loss', gradPrefix: 'grad_' } as const;

/** Name of the placeholder feeding trainable weight `i`. */
export function weightInputName(i: number): string {
  return `w_${i}`;
}

/** The part of a model plan the graphs read. */
export interface GraphModel {
  readonly layers: readonly PlanLayer[];
  readonly inputShape: readonly [number, number, number];
  readonly numWeights: number;
}

/** How the graphs are emitted for the device. */
export interface GraphOptions {
  /** See {@link BackwardWants.eigenFewChannels}. */
  readonly eigenFewChannels: boolean;
}

function weightInputs(g: GraphBuilder, numWeights: number): string[] {
  // Shapes are left unknown: the weights arrive with theirs, and the graph does not depend on them.
  return Array.from({ length: numWeights }, (_, i) => g.add('Placeholder', [], { dtype: F32 }, weightInputName(i)));
}

/** Per-example CE and its gradient with respect to the logits ([n], [n, k]). */
function crossEntropy(g: GraphBuilder, logits: string, y: string): { ce: string; dLogits: string } {
  const node = g.add('SparseSoftmaxCrossEntropyWithLogits', [logits, y], { T: F32, Tlabels: { type: 'int32' } });
  return { ce: node, dLogits: `${node}:1` };
}

/** The unrolled `steps`-step L-inf sign attack; see the module comment. */
export function buildSignAttackGraph(model: GraphModel, steps: number, opts: GraphOptions): Uint8Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`attack graph: steps must be an integer >= 1, got ${steps}`);
  const g = new GraphBuilder();
  const [h, w, c] = model.inputShape;
  const x = g.placeholder(ATTACK_GRAPH.x, 'float32', [-1, h, w, c]);
  const y = g.placeholder(ATTACK_GRAPH.y, 'int32', [-1]);
  let xAdv = g.placeholder(ATTACK_GRAPH.start, 'float32', [-1, h, w, c]);
  const eps = g.placeholder(ATTACK_GRAPH.eps, 'float32', []);
  const stepSize = g.placeholder(ATTACK_GRAPH.stepSize, 'float32', []);
  const weights = weightInputs(g, model.numWeights);
  // The same bounds, in the same op order, as the eager attack's linfBounds/projectLinf.
  const lo = g.add('Maximum', [g.add('Sub', [x, eps], { T: F32 }), g.scalar(0)], { T: F32 });
  const hi = g.add('Minimum', [g.add('AddV2', [x, eps], { T: F32 }), g.scalar(1)], { T: F32 });
  for (let s = 0; s < steps; s++) {
    const fwd = emitForward(g, model.layers, xAdv, weights);
    const { dLogits } = crossEntropy(g, fwd.logits, y);
    const grad = emitBackward(g, fwd, dLogits, weights, { input: true, weights: false, eigenFewChannels: opts.eigenFewChannels }).input!;
    const moved = g.add('AddV2', [xAdv, g.add('Mul', [stepSize, g.add('Sign', [grad], { T: F32 })], { T: F32 })], { T: F32 });
    xAdv = g.add('Minimum', [g.add('Maximum', [moved, lo], { T: F32 }), hi], { T: F32 }, s === steps - 1 ? ATTACK_GRAPH.output : undefined);
  }
  return g.encodeSavedModel();
}

/** The weighted CE loss and its weight gradients; see the module comment. */
export function buildLossGradGraph(model: GraphModel, opts: GraphOptions): Uint8Array {
  const g = new GraphBuilder();
  const [h, w, c] = model.inputShape;
  const x = g.placeholder(LOSS_GRAD_GRAPH.x, 'float32', [-1, h, w, c]);
  const y = g.placeholder(LOSS_GRAD_GRAPH.y, 'int32', [-1]);
  const exampleWeight = g.placeholder(LOSS_GRAD_GRAPH.exampleWeight, 'float32', [-1]);
  const weights = weightInputs(g, model.numWeights);
  const fwd = emitForward(g, model.layers, x, weights);
  const { ce, dLogits } = crossEntropy(g, fwd.logits, y);
  g.add('Sum', [g.add('Mul', [ce, exampleWeight], { T: F32 }), g.int32s([0])], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } }, LOSS_GRAD_GRAPH.loss);
  const scaled = g.add('Mul', [dLogits, g.add('ExpandDims', [exampleWeight, g.int32s([1])], { T: F32, Tdim: { type: 'int32' } })], { T: F32 });
  const grads = emitBackward(g, fwd, scaled, weights, { input: false, weights: true, eigenFewChannels: opts.eigenFewChannels }).weights;
  grads.forEach((grad, i) => g.add('Identity', [grad], { T: F32 }, `${LOSS_GRAD_GRAPH.gradPrefix}${i}`));
  return g.encodeSavedModel();
}
