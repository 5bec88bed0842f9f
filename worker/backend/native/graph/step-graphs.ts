/**
 * The two graphs a training step runs on the native backend:
 *
 * - the L-inf sign attack (PGD, and FGSM / FGSM-RS as its one-step case):
 *   `steps` times x ← clip(x + stepSize · sign(∇ₓ Σ CE(f(x), y)), lo, hi),
 *   unrolled, from a start point the caller computes (so its random draw
 *   stays the eager one);
 * - the weighted cross-entropy loss and its gradient with respect to every
 *   trainable weight: loss = Σᵢ wᵢ · CE(f(xᵢ), yᵢ), which is `adv`
 *   (wᵢ = 1/n) and `adv-clean` (adversarial and clean examples, weights 1/n
 *   and λ/n). With BatchNorm, the model runs in training mode, and each
 *   batch ("branch": adversarial, clean) is its own forward pass with its
 *   own batch statistics, as the eager step's two `model.apply` calls are;
 *   the graph sums the branches' losses and gradients and outputs each
 *   branch's batch mean and variance per BatchNorm layer, from which the
 *   caller updates the moving statistics.
 *
 * The attack runs the model in inference mode (BatchNorm on the moving
 * statistics, which are graph inputs too).
 *
 * Both take the weights as inputs (never baked in), so one graph serves a
 * whole run. Pure: they return the encoded SavedModel.
 */
import { linfBox, signStep } from '../../../train/attacks/sign-step.js';
import { GraphBuilder, output } from './graph-def.js';
import { GraphOps } from './graph-ops.js';
import { batchStatistics, emitBackward, emitForward, type PlanGraph } from './model-graph.js';

const F32 = { type: 'float32' } as const;

/** Input and output tensor names of the attack graph. */
export const ATTACK_GRAPH = { x: 'x', y: 'y', start: 'start', eps: 'eps', stepSize: 'step_size', output: 'x_adv' } as const;

/** Input and output tensor names of the loss-gradient graph (branch 0's inputs; see {@link branchName}). */
export const LOSS_GRAD_GRAPH = { x: 'x', y: 'y', exampleWeight: 'example_weight', loss: 'loss', gradPrefix: 'grad_' } as const;

/** Name of the placeholder feeding trainable weight `i`. */
export function weightInputName(i: number): string {
  return `w_${i}`;
}

/** Name of the placeholder feeding non-trainable weight `j` (a BatchNorm moving statistic). */
export function statInputName(j: number): string {
  return `s_${j}`;
}

/** Name of a loss-gradient input (x, y, example_weight) for branch `b`: branch 0 keeps the plain name. */
export function branchName(name: string, b: number): string {
  return b === 0 ? name : `${name}_${b}`;
}

/** Names of branch `b`'s batch mean and variance outputs for the BatchNorm plan node `node`. */
export function batchStatNames(b: number, node: number): { mean: string; variance: string } {
  return { mean: `bn_mean_${b}_${node}`, variance: `bn_var_${b}_${node}` };
}

/** The part of a model plan the graphs read. */
export interface GraphModel extends PlanGraph {
  readonly inputShape: readonly [number, number, number];
  readonly numWeights: number;
  /** Number of non-trainable weights (BatchNorm moving statistics); absent: none. */
  readonly numNonTrainable?: number;
}

/** The plan nodes that are BatchNorm layers, in order. */
export function batchNormNodes(model: GraphModel): number[] {
  return model.layers.flatMap((l, i) => (l.kind === 'batchnorm' ? [i] : []));
}

/** How the graphs are emitted for the device. */
export interface GraphOptions {
  /** See {@link BackwardWants.eigenFewChannels}. */
  readonly eigenFewChannels: boolean;
  /**
   * Independent chains the attack splits the batch into (default 1). The
   * attack is per example (inference mode), so the chains compute the same
   * numbers; on a CPU, TF runs them side by side and fills the cores while
   * one chain is in a poorly parallel op.
   */
  readonly attackChains?: number;
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
  const chains = opts.attackChains ?? 1;
  if (!Number.isInteger(chains) || chains < 1) throw new Error(`attack graph: attackChains must be an integer >= 1, got ${chains}`);
  const g = new GraphBuilder();
  const [h, w, c] = model.inputShape;
  const x = g.placeholder(ATTACK_GRAPH.x, 'float32', [-1, h, w, c]);
  const y = g.placeholder(ATTACK_GRAPH.y, 'int32', [-1]);
  const start = g.placeholder(ATTACK_GRAPH.start, 'float32', [-1, h, w, c]);
  const eps = g.placeholder(ATTACK_GRAPH.eps, 'float32', []);
  const stepSize = g.placeholder(ATTACK_GRAPH.stepSize, 'float32', []);
  const weights = weightInputs(g, model.numWeights);
  const stats = Array.from({ length: model.numNonTrainable ?? 0 }, (_, j) => g.add('Placeholder', [], { dtype: F32 }, statInputName(j)));
  const sizes = chains === 1 ? '' : chainSizes(g, y, chains);
  const split = (t: string, dtype: 'float32' | 'int32'): string[] => (chains === 1 ? [t] : splitBatch(g, t, sizes, chains, dtype));
  const [xs, ys, starts] = [split(x, 'float32'), split(y, 'int32'), split(start, 'float32')];
  const ops = new GraphOps(g);
  const outputs = xs.map((xk, k) => {
    // The eager attack's step (sign-step.ts), lowered to graph nodes.
    const box = linfBox(ops, xk, eps);
    let xAdv = starts[k]!;
    for (let s = 0; s < steps; s++) {
      const fwd = emitForward(g, model, xAdv, weights, { training: false, stats });
      const { dLogits } = crossEntropy(g, fwd.logits, ys[k]!);
      const grad = emitBackward(g, fwd, dLogits, weights, { input: true, weights: false, eigenFewChannels: opts.eigenFewChannels }).input!;
      xAdv = signStep(ops, xAdv, grad, stepSize, box);
    }
    if (chains === 1) g.rename(xAdv, ATTACK_GRAPH.output);
    return chains === 1 ? ATTACK_GRAPH.output : xAdv;
  });
  if (chains > 1) g.add('ConcatV2', [...outputs, g.scalarInt32(0)], { T: F32, N: { i: chains }, Tidx: { type: 'int32' } }, ATTACK_GRAPH.output);
  return g.encodeSavedModel();
}

/** Chunk sizes [⌊n/k⌋ × (k−1), rest] of a batch of n labels `y` (chunks may be empty when n < k). */
function chainSizes(g: GraphBuilder, y: string, chains: number): string {
  const I32 = { type: 'int32' } as const;
  const n = g.add('Size', [y], { T: I32, out_type: I32 });
  const per = g.add('FloorDiv', [n, g.scalarInt32(chains)], { T: I32 });
  return g.add('Pack', [...Array.from({ length: chains - 1 }, () => per), g.scalarInt32(-1)], { T: I32, N: { i: chains }, axis: { i: 0 } });
}

/** Splits `t` along the batch into `chains` parts of `sizes`. */
function splitBatch(g: GraphBuilder, t: string, sizes: string, chains: number, dtype: 'float32' | 'int32'): string[] {
  const node = g.add('SplitV', [t, sizes, g.scalarInt32(0)], { T: { type: dtype }, Tlen: { type: 'int32' }, num_split: { i: chains } });
  return Array.from({ length: chains }, (_, k) => output(node, k));
}

/**
 * The weighted CE loss and its weight gradients over `branches` separate
 * training-mode forward passes; see the module comment.
 */
export function buildLossGradGraph(model: GraphModel, opts: GraphOptions, branches = 1): Uint8Array {
  if (!Number.isInteger(branches) || branches < 1) throw new Error(`loss-gradient graph: branches must be an integer >= 1, got ${branches}`);
  const g = new GraphBuilder();
  const [h, w, c] = model.inputShape;
  const weights = weightInputs(g, model.numWeights);
  const losses: string[] = [];
  const perBranch: (readonly string[])[] = [];
  for (let b = 0; b < branches; b++) {
    const x = g.placeholder(branchName(LOSS_GRAD_GRAPH.x, b), 'float32', [-1, h, w, c]);
    const y = g.placeholder(branchName(LOSS_GRAD_GRAPH.y, b), 'int32', [-1]);
    const exampleWeight = g.placeholder(branchName(LOSS_GRAD_GRAPH.exampleWeight, b), 'float32', [-1]);
    const fwd = emitForward(g, model, x, weights, { training: true });
    const { ce, dLogits } = crossEntropy(g, fwd.logits, y);
    const loss = g.add('Mul', [ce, exampleWeight], { T: F32 });
    losses.push(g.add('Sum', [loss, g.int32s([0])], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } }, branches === 1 ? LOSS_GRAD_GRAPH.loss : undefined));
    const scaled = g.add('Mul', [dLogits, g.add('ExpandDims', [exampleWeight, g.int32s([1])], { T: F32, Tdim: { type: 'int32' } })], { T: F32 });
    perBranch.push(emitBackward(g, fwd, scaled, weights, { input: false, weights: true, eigenFewChannels: opts.eigenFewChannels }).weights);
    for (const s of batchStatistics(fwd)) {
      const names = batchStatNames(b, s.node);
      g.add('Identity', [s.mean], { T: F32 }, names.mean);
      g.add('Identity', [s.variance], { T: F32 }, names.variance);
    }
  }
  const sum = (xs: readonly string[], name: string): string => g.add(xs.length === 1 ? 'Identity' : 'AddN', xs, xs.length === 1 ? { T: F32 } : { T: F32, N: { i: xs.length } }, name);
  if (branches > 1) sum(losses, LOSS_GRAD_GRAPH.loss);
  for (let i = 0; i < model.numWeights; i++) sum(perBranch.map((grads) => grads[i]!), `${LOSS_GRAD_GRAPH.gradPrefix}${i}`);
  return g.encodeSavedModel();
}
