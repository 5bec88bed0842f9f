/**
 * Emits a model plan's forward pass and its backward pass (input gradient,
 * weight gradients, or both) as TensorFlow graph nodes. The backward pass is
 * written out by hand from each layer's derivative, as tfjs-node has no
 * graph-mode autodiff; where a node feeds several others (a residual
 * shortcut), its gradient is the sum of theirs.
 *
 * BatchNorm runs in one of two modes, as in tfjs-layers: inference (the
 * moving statistics, fed as graph inputs: the attack) or training (the
 * batch's biased mean and variance over n, h, w: the loss gradient, which
 * also differentiates through those statistics).
 */
import type { GraphBuilder } from './graph-def.js';
import { MODEL_INPUT, type PlanLayer } from './sequential-plan.js';

const F32 = { type: 'float32' } as const;
const NHW = [0, 1, 2];

/** The graph of a plan: its nodes and, unless it is a chain, their edges. */
export interface PlanGraph {
  readonly layers: readonly PlanLayer[];
  /** Node ids each node reads; absent: a chain (node i reads node i − 1, node 0 the input). */
  readonly inputs?: readonly (readonly number[])[];
  /** The logits node; absent: the last. */
  readonly output?: number;
}

/** How BatchNorm layers normalize: see the module comment. */
export type BatchNormMode =
  | { readonly training: false; /** `stats[j]` feeds `model.nonTrainableWeights[j]`. */ readonly stats: readonly string[] }
  | { readonly training: true };

/** A node's inputs and output, which its gradient needs (and a BatchNorm's statistics: the batch's in training mode, the moving ones otherwise). */
interface NodeTrace {
  readonly layer: PlanLayer;
  readonly from: readonly number[];
  readonly inputs: readonly string[];
  readonly output: string;
  readonly bnStats?: { readonly mean: string; readonly variance: string };
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

function strides4(s: readonly [number, number]): { ints: number[] } {
  return { ints: [1, s[0], s[1], 1] };
}

function edges(model: PlanGraph): { inputs: readonly (readonly number[])[]; output: number } {
  return {
    inputs: model.inputs ?? model.layers.map((_, i) => [i === 0 ? MODEL_INPUT : i - 1]),
    output: model.output ?? model.layers.length - 1,
  };
}

/**
 * TF's padding of one spatial dimension for 'SAME' (or none for 'VALID'),
 * [before, after]: the same numbers TF and tfjs compute internally.
 */
export function samePadding(inSize: number, kernel: number, stride: number, padding: 'SAME' | 'VALID'): [number, number] {
  if (padding === 'VALID') return [0, 0];
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Up to this many input channels, a convolution's input gradient is emitted
 * with EXPLICIT padding so TF runs its Eigen kernel rather than oneDNN (see
 * ../conv2d-backprop-input-kernel.ts for the measurements).
 */
export const MAX_EIGEN_INPUT_CHANNELS = 4;

/** Forward pass of `model` on `x`; `weights[i]` feeds trainable weight i. */
export function emitForward(g: GraphBuilder, model: PlanGraph, x: string, weights: readonly string[], bn: BatchNormMode = { training: false, stats: [] }): ForwardTrace {
  const { inputs: edgesIn, output } = edges(model);
  const nodes: NodeTrace[] = [];
  model.layers.forEach((layer, i) => {
    const from = edgesIn[i]!;
    const ins = from.map((id) => (id === MODEL_INPUT ? x : nodes[id]!.output));
    let h = ins[0]!;
    let bnStats: NodeTrace['bnStats'];
    switch (layer.kind) {
      case 'conv2d':
        h = g.add('Conv2D', [h, weights[layer.kernel]!], { T: F32, strides: strides4(layer.strides), padding: { s: layer.padding } });
        break;
      case 'dense':
        h = g.add('MatMul', [h, weights[layer.kernel]!], { T: F32, transpose_a: { b: false }, transpose_b: { b: false } });
        break;
      case 'maxpool':
        h = g.add('MaxPool', [h], { T: F32, ksize: strides4(layer.poolSize), strides: strides4(layer.strides), padding: { s: layer.padding } });
        break;
      case 'flatten':
        h = g.add('Reshape', [h, g.int32s([-1, layer.size])], { T: F32, Tshape: { type: 'int32' } });
        break;
      case 'batchnorm': {
        let mean: string;
        let variance: string;
        if (bn.training) {
          // tf.moments, op for op: mean, then the mean of the squared deviation (biased, no Bessel correction).
          mean = reduce(g, 'Mean', h, NHW);
          const dev = g.add('Sub', [h, g.add('Reshape', [mean, g.int32s([1, 1, 1, -1])], { T: F32, Tshape: { type: 'int32' } })], { T: F32 });
          variance = reduce(g, 'Mean', g.add('Square', [dev], { T: F32 }), NHW);
        } else {
          mean = bn.stats[layer.movingMean]!;
          variance = bn.stats[layer.movingVariance]!;
          if (mean === undefined || variance === undefined) throw new Error('emitForward: an inference-mode BatchNorm needs its moving statistics');
        }
        bnStats = { mean, variance };
        // The kernel tfjs-node's batchNorm runs (FusedBatchNorm, is_training false) with these statistics.
        h = g.add('FusedBatchNorm', [h, weights[layer.gamma]!, weights[layer.beta]!, mean, variance], {
          T: F32,
          epsilon: { f: layer.epsilon },
          data_format: { s: 'NHWC' },
          is_training: { b: false },
        });
        break;
      }
      case 'relu':
        h = g.add('Relu', [h], { T: F32 });
        break;
      case 'add':
        // tfjs's Add layer: ((in0 + in1) + in2) + ...
        for (const other of ins.slice(1)) h = g.add('AddV2', [h, other], { T: F32 });
        break;
      case 'globalAvgPool':
        h = reduce(g, 'Mean', h, [1, 2]);
        break;
    }
    if ((layer.kind === 'conv2d' || layer.kind === 'dense') && layer.bias !== null) h = g.add('BiasAdd', [h, weights[layer.bias]!], { T: F32 });
    if ((layer.kind === 'conv2d' || layer.kind === 'dense') && layer.activation === 'relu') h = g.add('Relu', [h], { T: F32 });
    nodes.push({ layer, from, inputs: ins, output: h, ...(bnStats === undefined ? {} : { bnStats }) });
  });
  return { logits: nodes[output]!.output, output, nodes, training: bn.training };
}

function reduce(g: GraphBuilder, op: 'Mean' | 'Sum', x: string, axes: readonly number[]): string {
  return g.add(op, [x, g.int32s(axes)], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } });
}

function shapeOf(g: GraphBuilder, x: string): string {
  return g.add('Shape', [x], { T: F32, out_type: { type: 'int32' } });
}

/** What {@link emitBackward} computes. */
export interface BackwardWants {
  readonly input: boolean;
  readonly weights: boolean;
  /** Route few-channel input gradients to Eigen ({@link MAX_EIGEN_INPUT_CHANNELS}); off on GPUs. */
  readonly eigenFewChannels: boolean;
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
    let d = gradOf(i);
    if (d === undefined) continue; // does not reach the logits (the planner rejects such models)
    const input = inputs[0]!;
    // Only an input gradient into the model's input is optional.
    const needBelow = from[0] !== MODEL_INPUT || wants.input;
    switch (layer.kind) {
      case 'dense':
      case 'conv2d': {
        if (layer.activation === 'relu') d = g.add('ReluGrad', [d, out], { T: F32 });
        if (wants.weights && layer.bias !== null) dW[layer.bias] = g.add('BiasAddGrad', [d], { T: F32 });
        const kernel = weights[layer.kernel]!;
        if (layer.kind === 'dense') {
          if (wants.weights) dW[layer.kernel] = g.add('MatMul', [input, d], { T: F32, transpose_a: { b: true }, transpose_b: { b: false } });
          if (needBelow) send(from[0]!, g.add('MatMul', [d, kernel], { T: F32, transpose_a: { b: false }, transpose_b: { b: true } }));
        } else {
          const conv = { T: F32, strides: strides4(layer.strides), padding: { s: layer.padding } };
          if (wants.weights) dW[layer.kernel] = filterGrad(g, layer, input, kernel, d, conv);
          if (needBelow) send(from[0]!, g.add('Conv2DBackpropInput', [shapeOf(g, input), kernel, d], wants.eigenFewChannels ? inputGradAttrs(layer, conv) : conv));
        }
        break;
      }
      case 'maxpool':
        if (needBelow) send(from[0]!, g.add('MaxPoolGrad', [input, out, d], { T: F32, ksize: strides4(layer.poolSize), strides: strides4(layer.strides), padding: { s: layer.padding } }));
        break;
      case 'flatten':
        if (needBelow) send(from[0]!, g.add('Reshape', [d, shapeOf(g, input)], { T: F32, Tshape: { type: 'int32' } }));
        break;
      case 'relu':
        if (needBelow) send(from[0]!, g.add('ReluGrad', [d, out], { T: F32 }));
        break;
      case 'add':
        for (const id of from) if (id !== MODEL_INPUT || wants.input) send(id, d);
        break;
      case 'globalAvgPool': {
        if (!needBelow) break;
        // The mean's gradient: dy / (h·w) at every position.
        const [h, w, c] = layer.inShape;
        const spread = g.add('BroadcastTo', [g.add('Reshape', [d, g.int32s([-1, 1, 1, c])], { T: F32, Tshape: { type: 'int32' } }), shapeOf(g, input)], { T: F32, Tidx: { type: 'int32' } });
        send(from[0]!, g.add('RealDiv', [spread, g.scalar(h * w)], { T: F32 }));
        break;
      }
      case 'batchnorm': {
        const gamma = weights[layer.gamma]!;
        const stats = bnStats!;
        const rstd = g.add('Rsqrt', [g.add('AddV2', [stats.variance, g.scalar(layer.epsilon)], { T: F32 })], { T: F32 });
        if (!fwd.training) {
          // Inference mode: the statistics are constants, so dx = dy·gamma·rsqrt(var + eps).
          if (wants.weights) throw new Error('emitBackward: weight gradients of an inference-mode BatchNorm are not implemented');
          if (needBelow) send(from[0]!, g.add('Mul', [d, g.add('Mul', [gamma, rstd], { T: F32 })], { T: F32 }));
          break;
        }
        const xhat = g.add('Mul', [g.add('Sub', [input, stats.mean], { T: F32 }), rstd], { T: F32 });
        const dyXhat = g.add('Mul', [d, xhat], { T: F32 });
        if (wants.weights) {
          dW[layer.gamma] = reduce(g, 'Sum', dyXhat, NHW);
          dW[layer.beta] = reduce(g, 'Sum', d, NHW);
        }
        if (needBelow) {
          // dx = gamma·rstd·(dy − mean(dy) − xhat·mean(dy·xhat)), the means over n, h, w.
          const centred = g.add('Sub', [g.add('Sub', [d, reduce(g, 'Mean', d, NHW)], { T: F32 }), g.add('Mul', [xhat, reduce(g, 'Mean', dyXhat, NHW)], { T: F32 })], { T: F32 });
          send(from[0]!, g.add('Mul', [centred, g.add('Mul', [gamma, rstd], { T: F32 })], { T: F32 }));
        }
        break;
      }
    }
  }
  const dx = wants.input ? gradOf(MODEL_INPUT) : undefined;
  if (wants.input && dx === undefined) throw new Error('emitBackward: the logits do not depend on the input');
  return { ...(dx === undefined ? {} : { input: dx }), weights: dW };
}

/**
 * A convolution's filter gradient. For a strided 1×1 kernel it is taken on
 * the strided input instead (StridedSlice, then stride 1 and VALID): the
 * same numbers, as such a conv reads exactly every s-th pixel and SAME pads
 * nothing, and it avoids libtensorflow 2.9.1's oneDNN strided 1×1
 * Conv2DBackpropFilter, which corrupts the heap (../conv2d-backprop-filter-kernel.ts).
 */
function filterGrad(
  g: GraphBuilder,
  layer: Extract<PlanLayer, { kind: 'conv2d' }>,
  input: string,
  kernel: string,
  d: string,
  conv: { T: typeof F32; strides: { ints: number[] }; padding: { s: string } },
): string {
  const [sh, sw] = layer.strides;
  if (layer.kernelSize[0] !== 1 || layer.kernelSize[1] !== 1 || (sh === 1 && sw === 1)) {
    return g.add('Conv2DBackpropFilter', [input, shapeOf(g, kernel), d], conv);
  }
  const strided = g.add('StridedSlice', [input, g.int32s([0, 0, 0, 0]), g.int32s([0, 0, 0, 0]), g.int32s([1, sh, sw, 1])], {
    T: F32,
    Index: { type: 'int32' },
    begin_mask: { i: 15 },
    end_mask: { i: 15 },
    ellipsis_mask: { i: 0 },
    new_axis_mask: { i: 0 },
    shrink_axis_mask: { i: 0 },
  });
  return g.add('Conv2DBackpropFilter', [strided, shapeOf(g, kernel), d], { T: F32, strides: strides4([1, 1]), padding: { s: 'VALID' } });
}

function inputGradAttrs(
  layer: Extract<PlanLayer, { kind: 'conv2d' }>,
  conv: { T: typeof F32; strides: { ints: number[] }; padding: { s: string } },
): Record<string, typeof F32 | { ints: number[] } | { s: string }> {
  if (layer.inShape[2] > MAX_EIGEN_INPUT_CHANNELS) return conv;
  const [top, bottom] = samePadding(layer.inShape[0], layer.kernelSize[0], layer.strides[0], layer.padding);
  const [left, right] = samePadding(layer.inShape[1], layer.kernelSize[1], layer.strides[1], layer.padding);
  return { ...conv, padding: { s: 'EXPLICIT' }, explicit_paddings: { ints: [0, 0, top, bottom, left, right, 0, 0] } };
}

