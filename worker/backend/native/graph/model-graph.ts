/**
 * Emits a model plan's forward pass and its backward pass (input gradient,
 * weight gradients, or both) as TensorFlow graph nodes, node by node through
 * each layer kind's entry in layer-table.ts; this file walks the DAG: where
 * a node feeds several others (a residual shortcut), its gradient is the sum
 * of theirs.
 *
 * BatchNorm runs in one of two modes, as in tfjs-layers: inference (the
 * moving statistics, fed as graph inputs: the attack) or training (the
 * batch's biased mean and variance over n, h, w: the loss gradient, which
 * also differentiates through those statistics).
 */
import type { GraphBuilder } from './graph-def.js';
import { layerKindOf, type BackwardWants, type BatchNormMode, type ForwardOut } from './layer-table.js';
import { MODEL_INPUT, type PlanLayer } from './plan-layer.js';

export { MAX_EIGEN_INPUT_CHANNELS, samePadding, type BackwardWants, type BatchNormMode } from './layer-table.js';

const F32 = { type: 'float32' } as const;

/** The graph of a plan: its nodes and, unless it is a chain, their edges. */
export interface PlanGraph {
  readonly layers: readonly PlanLayer[];
  /** Node ids each node reads; absent: a chain (node i reads node i − 1, node 0 the input). */
  readonly inputs?: readonly (readonly number[])[];
  /** The logits node; absent: the last. */
  readonly output?: number;
}

/** A node's inputs and output, which its gradient needs (and a BatchNorm's statistics: the batch's in training mode, the moving ones otherwise). */
interface NodeTrace {
  readonly layer: PlanLayer;
  readonly from: readonly number[];
  readonly inputs: readonly string[];
  readonly output: string;
  readonly bnStats?: ForwardOut['bnStats'];
}

/** Result of {@link emitForward}. */
export interface ForwardTrace {
  readonly logits: string;
  readonly output: number;
  readonly nodes: readonly NodeTrace[];
  readonly training: boolean;
}

/** A BatchNorm node's batch mean and variance in a training-mode forward pass, by node id. */
export function batchStatistics(fwd: ForwardTrace): { node: number; mean: string; variance: string }[] {
  if (!fwd.training) return [];
  return fwd.nodes.flatMap((n, i) => (n.bnStats === undefined ? [] : [{ node: i, ...n.bnStats }]));
}

function edges(model: PlanGraph): { inputs: readonly (readonly number[])[]; output: number } {
  return {
    inputs: model.inputs ?? model.layers.map((_, i) => [i === 0 ? MODEL_INPUT : i - 1]),
    output: model.output ?? model.layers.length - 1,
  };
}

/** Forward pass of `model` on `x`; `weights[i]` feeds trainable weight i. */
export function emitForward(g: GraphBuilder, model: PlanGraph, x: string, weights: readonly string[], bn: BatchNormMode = { training: false, stats: [] }): ForwardTrace {
  const { inputs: edgesIn, output } = edges(model);
  const nodes: NodeTrace[] = [];
  model.layers.forEach((layer, i) => {
    const from = edgesIn[i]!;
    const ins = from.map((id) => (id === MODEL_INPUT ? x : nodes[id]!.output));
    const { output: h, bnStats } = layerKindOf(layer).forward(layer, { g, ins, weights, bn });
    nodes.push({ layer, from, inputs: ins, output: h, ...(bnStats === undefined ? {} : { bnStats }) });
  });
  return { logits: nodes[output]!.output, output, nodes, training: bn.training };
}

/** Result of {@link emitBackward}: node per gradient (weight gradients by weight index). */
export interface BackwardResult {
  readonly input?: string;
  readonly weights: readonly string[];
}

/**
 * Back-propagates `dLogits` (d loss / d logits) through `fwd`, in reverse
 * topological order, summing the gradients a node receives from its
 * consumers. Gradients into the model input are only formed if wanted.
 */
export function emitBackward(
  g: GraphBuilder,
  fwd: ForwardTrace,
  dLogits: string,
  weights: readonly string[],
  wants: BackwardWants,
): BackwardResult {
  const dW: string[] = new Array<string>(weights.length);
  const pending = new Map<number, string[]>([[fwd.output, [dLogits]]]);
  const send = (id: number, grad: string): void => {
    const list = pending.get(id);
    if (list === undefined) pending.set(id, [grad]);
    else list.push(grad);
  };
  const gradOf = (id: number): string | undefined => {
    const list = pending.get(id);
    if (list === undefined) return undefined;
    return list.length === 1 ? list[0]! : g.add('AddN', list, { T: F32, N: { i: list.length } });
  };
  for (let i = fwd.nodes.length - 1; i >= 0; i--) {
    const { layer, from, inputs, output: out, bnStats } = fwd.nodes[i]!;
    const d = gradOf(i);
    if (d === undefined) continue; // does not reach the logits (the planner rejects such models)
    // Only an input gradient into the model's input is optional.
    const needBelow = from[0] !== MODEL_INPUT || wants.input;
    layerKindOf(layer).backward(layer, { g, d, from, inputs, output: out, bnStats, weights, wants, training: fwd.training, needBelow, send, dW });
  }
  const dx = wants.input ? gradOf(MODEL_INPUT) : undefined;
  if (wants.input && dx === undefined) throw new Error('emitBackward: the logits do not depend on the input');
  return { ...(dx === undefined ? {} : { input: dx }), weights: dW };
}
