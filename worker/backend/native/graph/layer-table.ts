/**
 * Every layer kind the graphs run, each in one entry: how a tfjs-layers
 * layer of its class is planned (sequential-plan.ts), emitted in the forward
 * pass and differentiated in the backward pass (model-graph.ts). Adding a
 * layer kind means its PlanLayer member (plan-layer.ts) and its entry here;
 * the table's type makes an entry for every kind compulsory.
 *
 * The backward passes are written out by hand from each layer's derivative,
 * as tfjs-node has no graph-mode autodiff.
 */
import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from './graph-def.js';
import { MODEL_INPUT, type PlanActivation, type PlanLayer } from './plan-layer.js';

const F32 = { type: 'float32' } as const;
const NHW = [0, 1, 2];

type Config = Record<string, unknown>;

/** What planning one layer sees, computed once by planModel for every layer. */
export interface PlanInput {
  readonly layer: tf.layers.Layer;
  readonly cfg: Config;
  /** Node ids the layer reads ({@link MODEL_INPUT} for the model input), in argument order. */
  readonly from: readonly number[];
  /** The output rank of each node in `from`. */
  readonly fromRanks: readonly number[];
  /** The shape of the layer's (first) input. */
  readonly inDims: readonly (number | null)[];
  /** The input is [n, h, w, c] with h, w and c known. */
  readonly knownImage: boolean;
  /** The layer's `activation`, if one the graphs implement. */
  readonly act: PlanActivation | undefined;
  readonly hasBias: boolean;
  /** Index in `model.trainableWeights` of the layer's trainable weight k. */
  weightIndex(k: number): number;
  /** Index in `model.nonTrainableWeights` of the layer's non-trainable weight k. */
  statIndex(k: number): number;
}

/** A planned layer and its output rank, or why the layer cannot be planned. */
export type Planned = { readonly layer: PlanLayer; readonly outRank: number } | string;

/** How BatchNorm layers normalize: inference (moving statistics fed as graph inputs) or training (the batch's). */
export type BatchNormMode =
  | { readonly training: false; /** `stats[j]` feeds `model.nonTrainableWeights[j]`. */ readonly stats: readonly string[] }
  | { readonly training: true };

/** One node's forward emission. */
export interface ForwardArgs {
  readonly g: GraphBuilder;
  /** The node's input tensors, in argument order. */
  readonly ins: readonly string[];
  readonly weights: readonly string[];
  readonly bn: BatchNormMode;
}

/** A node's output (and a BatchNorm's statistics: the batch's in training mode, the moving ones otherwise). */
export interface ForwardOut {
  readonly output: string;
  readonly bnStats?: { readonly mean: string; readonly variance: string };
}

/** What {@link emitBackward} computes. */
export interface BackwardWants {
  readonly input: boolean;
  readonly weights: boolean;
  /** Route few-channel input gradients to Eigen ({@link MAX_EIGEN_INPUT_CHANNELS}); off on GPUs. */
  readonly eigenFewChannels: boolean;
}

/** One node's backward emission. */
export interface BackwardArgs {
  readonly g: GraphBuilder;
  /** d loss / d (the node's output). */
  readonly d: string;
  readonly from: readonly number[];
  readonly inputs: readonly string[];
  readonly output: string;
  readonly bnStats: ForwardOut['bnStats'];
  readonly weights: readonly string[];
  readonly wants: BackwardWants;
  readonly training: boolean;
  /** Whether a gradient into the node's first input is needed (only one into the model's input is optional). */
  readonly needBelow: boolean;
  /** Adds `grad` to the gradient node `id` receives. */
  send(id: number, grad: string): void;
  /** Weight gradients by weight index, filled in. */
  readonly dW: string[];
}

/** One layer kind; see the module comment. */
export interface LayerKind<L extends PlanLayer> {
  /** The tfjs-layers class it plans. */
  readonly className: string;
  /** The layer may read several inputs (the others read exactly one). */
  readonly manyInputs?: true;
  /** The layer may have non-trainable weights (moving statistics, fed to the graphs as inputs). */
  readonly hasStatistics?: true;
  plan(p: PlanInput): Planned;
  forward(layer: L, a: ForwardArgs): ForwardOut;
  backward(layer: L, a: BackwardArgs): void;
}

type KindOf<K extends PlanLayer['kind']> = Extract<PlanLayer, { kind: K }>;

function strides4(s: readonly [number, number]): { ints: number[] } {
  return { ints: [1, s[0], s[1], 1] };
}

function reduce(g: GraphBuilder, op: 'Mean' | 'Sum', x: string, axes: readonly number[]): string {
  return g.add(op, [x, g.int32s(axes)], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } });
}

function shapeOf(g: GraphBuilder, x: string): string {
  return g.add('Shape', [x], { T: F32, out_type: { type: 'int32' } });
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number];
  throw new Error(`${what}: expected a number or a pair, got ${JSON.stringify(v)}`);
}

function padding(v: unknown): 'SAME' | 'VALID' | undefined {
  return v === 'same' ? 'SAME' : v === 'valid' ? 'VALID' : undefined;
}

/** The first input's rank (every layer but Add reads one input). */
function rankOf(p: PlanInput): number {
  return p.fromRanks[0]!;
}

/**
 * TF's padding of one spatial dimension for 'SAME' (or none for 'VALID'),
 * [before, after]: the same numbers TF and tfjs compute internally.
 */
export function samePadding(inSize: number, kernel: number, stride: number, pad: 'SAME' | 'VALID'): [number, number] {
  if (pad === 'VALID') return [0, 0];
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

type ConvAttrs = { T: typeof F32; strides: { ints: number[] }; padding: { s: string } };

/**
 * A convolution's filter gradient. For a strided 1×1 kernel it is taken on
 * the strided input instead (StridedSlice, then stride 1 and VALID): the
 * same numbers, as such a conv reads exactly every s-th pixel and SAME pads
 * nothing, and it avoids libtensorflow 2.9.1's oneDNN strided 1×1
 * Conv2DBackpropFilter, which corrupts the heap (../conv2d-backprop-filter-kernel.ts).
 */
function filterGrad(g: GraphBuilder, layer: KindOf<'conv2d'>, input: string, kernel: string, d: string, conv: ConvAttrs): string {
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

function inputGradAttrs(layer: KindOf<'conv2d'>, conv: ConvAttrs): Record<string, typeof F32 | { ints: number[] } | { s: string }> {
  if (layer.inShape[2] > MAX_EIGEN_INPUT_CHANNELS) return conv;
  const [top, bottom] = samePadding(layer.inShape[0], layer.kernelSize[0], layer.strides[0], layer.padding);
  const [left, right] = samePadding(layer.inShape[1], layer.kernelSize[1], layer.strides[1], layer.padding);
  return { ...conv, padding: { s: 'EXPLICIT' }, explicit_paddings: { ints: [0, 0, top, bottom, left, right, 0, 0] } };
}

/** A conv's or dense layer's bias and ReLU after its product. */
function biasAndActivation(g: GraphBuilder, layer: KindOf<'conv2d'> | KindOf<'dense'>, h: string, weights: readonly string[]): string {
  let out = h;
  if (layer.bias !== null) out = g.add('BiasAdd', [out, weights[layer.bias]!], { T: F32 });
  if (layer.activation === 'relu') out = g.add('Relu', [out], { T: F32 });
  return out;
}

/** A conv's or dense layer's backward pass up to its product: the ReLU's and the bias's gradients; returns d (product). */
function backThroughActivation(layer: KindOf<'conv2d'> | KindOf<'dense'>, a: BackwardArgs): string {
  let d = a.d;
  if (layer.activation === 'relu') d = a.g.add('ReluGrad', [d, a.output], { T: F32 });
  if (a.wants.weights && layer.bias !== null) a.dW[layer.bias] = a.g.add('BiasAddGrad', [d], { T: F32 });
  return d;
}

const conv2d: LayerKind<KindOf<'conv2d'>> = {
  className: 'Conv2D',
  plan: (p) => {
    const { layer, cfg, inDims, act } = p;
    const pad = padding(cfg['padding']);
    if (rankOf(p) !== 4) return `conv ${layer.name} after a flatten`;
    if (act === undefined) return `layer ${layer.name} has activation ${String(cfg['activation'])}`;
    if (pad === undefined) return `layer ${layer.name} has padding ${String(cfg['padding'])}`;
    if (cfg['dataFormat'] !== 'channelsLast') return `layer ${layer.name} is not channels-last`;
    if (pair(cfg['dilationRate'], 'dilationRate').some((d) => d !== 1)) return `layer ${layer.name} is dilated`;
    if (!p.knownImage) return `layer ${layer.name} has an unknown input shape`;
    return {
      layer: {
        kind: 'conv2d',
        inShape: [inDims[1]!, inDims[2]!, inDims[3]!],
        kernelSize: pair(cfg['kernelSize'], 'kernelSize'),
        strides: pair(cfg['strides'], 'strides'),
        padding: pad,
        activation: act,
        kernel: p.weightIndex(0),
        bias: p.hasBias ? p.weightIndex(1) : null,
      },
      outRank: 4,
    };
  },
  forward: (layer, { g, ins, weights }) => {
    const h = g.add('Conv2D', [ins[0]!, weights[layer.kernel]!], { T: F32, strides: strides4(layer.strides), padding: { s: layer.padding } });
    return { output: biasAndActivation(g, layer, h, weights) };
  },
  backward: (layer, a) => {
    const d = backThroughActivation(layer, a);
    const { g } = a;
    const kernel = a.weights[layer.kernel]!;
    const conv = { T: F32, strides: strides4(layer.strides), padding: { s: layer.padding } };
    if (a.wants.weights) a.dW[layer.kernel] = filterGrad(g, layer, a.inputs[0]!, kernel, d, conv);
    if (a.needBelow) a.send(a.from[0]!, g.add('Conv2DBackpropInput', [shapeOf(g, a.inputs[0]!), kernel, d], a.wants.eigenFewChannels ? inputGradAttrs(layer, conv) : conv));
  },
};

const dense: LayerKind<KindOf<'dense'>> = {
  className: 'Dense',
  plan: (p) => {
    if (rankOf(p) !== 2) return `dense ${p.layer.name} on a rank-${rankOf(p)} input`;
    if (p.act === undefined) return `layer ${p.layer.name} has activation ${String(p.cfg['activation'])}`;
    return { layer: { kind: 'dense', activation: p.act, kernel: p.weightIndex(0), bias: p.hasBias ? p.weightIndex(1) : null }, outRank: 2 };
  },
  forward: (layer, { g, ins, weights }) => {
    const h = g.add('MatMul', [ins[0]!, weights[layer.kernel]!], { T: F32, transpose_a: { b: false }, transpose_b: { b: false } });
    return { output: biasAndActivation(g, layer, h, weights) };
  },
  backward: (layer, a) => {
    const d = backThroughActivation(layer, a);
    const { g } = a;
    if (a.wants.weights) a.dW[layer.kernel] = g.add('MatMul', [a.inputs[0]!, d], { T: F32, transpose_a: { b: true }, transpose_b: { b: false } });
    if (a.needBelow) a.send(a.from[0]!, g.add('MatMul', [d, a.weights[layer.kernel]!], { T: F32, transpose_a: { b: false }, transpose_b: { b: true } }));
  },
};

const maxpool: LayerKind<KindOf<'maxpool'>> = {
  className: 'MaxPooling2D',
  plan: (p) => {
    const pad = padding(p.cfg['padding']);
    if (rankOf(p) !== 4 || pad === undefined || p.cfg['dataFormat'] !== 'channelsLast') return `layer ${p.layer.name}: unsupported pooling`;
    const poolSize = pair(p.cfg['poolSize'], 'poolSize');
    return { layer: { kind: 'maxpool', poolSize, strides: p.cfg['strides'] === null ? poolSize : pair(p.cfg['strides'], 'strides'), padding: pad }, outRank: 4 };
  },
  forward: (layer, { g, ins }) => ({
    output: g.add('MaxPool', [ins[0]!], { T: F32, ksize: strides4(layer.poolSize), strides: strides4(layer.strides), padding: { s: layer.padding } }),
  }),
  backward: (layer, a) => {
    if (!a.needBelow) return;
    a.send(
      a.from[0]!,
      a.g.add('MaxPoolGrad', [a.inputs[0]!, a.output, a.d], { T: F32, ksize: strides4(layer.poolSize), strides: strides4(layer.strides), padding: { s: layer.padding } }),
    );
  },
};

const flatten: LayerKind<KindOf<'flatten'>> = {
  className: 'Flatten',
  plan: (p) => {
    const outDims = p.layer.outputShape as (number | null)[];
    if (rankOf(p) !== 4 || outDims.length !== 2 || outDims[1] === null) return `flatten ${p.layer.name} of a rank-${rankOf(p)} input`;
    return { layer: { kind: 'flatten', size: outDims[1]! }, outRank: 2 };
  },
  forward: (layer, { g, ins }) => ({ output: g.add('Reshape', [ins[0]!, g.int32s([-1, layer.size])], { T: F32, Tshape: { type: 'int32' } }) }),
  backward: (_layer, a) => {
    if (a.needBelow) a.send(a.from[0]!, a.g.add('Reshape', [a.d, shapeOf(a.g, a.inputs[0]!)], { T: F32, Tshape: { type: 'int32' } }));
  },
};

/**
 * BatchNormalization over the last axis. Inference mode normalizes with the
 * moving statistics (graph inputs: the attack); training mode with the
 * batch's biased mean and variance over n, h, w (the loss gradient, which
 * also differentiates through those statistics).
 */
const batchnorm: LayerKind<KindOf<'batchnorm'>> = {
  className: 'BatchNormalization',
  hasStatistics: true,
  plan: (p) => {
    const { layer, cfg } = p;
    const axis = cfg['axis'];
    if (rankOf(p) !== 4 || !p.knownImage) return `batch norm ${layer.name} on a rank-${rankOf(p)} input`;
    if (axis !== -1 && axis !== 3) return `batch norm ${layer.name} normalizes axis ${JSON.stringify(axis)}, not the last`;
    if (cfg['center'] !== true || cfg['scale'] !== true) return `batch norm ${layer.name} lacks gamma or beta`;
    const epsilon = cfg['epsilon'];
    const momentum = cfg['momentum'];
    if (typeof epsilon !== 'number' || typeof momentum !== 'number') return `batch norm ${layer.name} has no numeric epsilon/momentum`;
    // tfjs adds gamma, beta (trainable), then moving mean, moving variance.
    const names = layer.weights.map((w) => w.originalName.split('/').pop());
    if (names.join(',') !== 'gamma,beta,moving_mean,moving_variance') return `batch norm ${layer.name} has weights ${names.join(', ')}`;
    return {
      layer: {
        kind: 'batchnorm',
        channels: p.inDims[3]!,
        gamma: p.weightIndex(0),
        beta: p.weightIndex(1),
        movingMean: p.statIndex(0),
        movingVariance: p.statIndex(1),
        epsilon,
        momentum,
      },
      outRank: 4,
    };
  },
  forward: (layer, { g, ins, weights, bn }) => {
    const h = ins[0]!;
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
    // The kernel tfjs-node's batchNorm runs (FusedBatchNorm, is_training false) with these statistics.
    const output = g.add('FusedBatchNorm', [h, weights[layer.gamma]!, weights[layer.beta]!, mean, variance], {
      T: F32,
      epsilon: { f: layer.epsilon },
      data_format: { s: 'NHWC' },
      is_training: { b: false },
    });
    return { output, bnStats: { mean, variance } };
  },
  backward: (layer, a) => {
    const { g, d } = a;
    const gamma = a.weights[layer.gamma]!;
    const stats = a.bnStats!;
    const rstd = g.add('Rsqrt', [g.add('AddV2', [stats.variance, g.scalar(layer.epsilon)], { T: F32 })], { T: F32 });
    if (!a.training) {
      // Inference mode: the statistics are constants, so dx = dy·gamma·rsqrt(var + eps).
      if (a.wants.weights) throw new Error('emitBackward: weight gradients of an inference-mode BatchNorm are not implemented');
      if (a.needBelow) a.send(a.from[0]!, g.add('Mul', [d, g.add('Mul', [gamma, rstd], { T: F32 })], { T: F32 }));
      return;
    }
    const xhat = g.add('Mul', [g.add('Sub', [a.inputs[0]!, stats.mean], { T: F32 }), rstd], { T: F32 });
    const dyXhat = g.add('Mul', [d, xhat], { T: F32 });
    if (a.wants.weights) {
      a.dW[layer.gamma] = reduce(g, 'Sum', dyXhat, NHW);
      a.dW[layer.beta] = reduce(g, 'Sum', d, NHW);
    }
    if (a.needBelow) {
      // dx = gamma·rstd·(dy − mean(dy) − xhat·mean(dy·xhat)), the means over n, h, w.
      const centred = g.add('Sub', [g.add('Sub', [d, reduce(g, 'Mean', d, NHW)], { T: F32 }), g.add('Mul', [xhat, reduce(g, 'Mean', dyXhat, NHW)], { T: F32 })], { T: F32 });
      a.send(a.from[0]!, g.add('Mul', [centred, g.add('Mul', [gamma, rstd], { T: F32 })], { T: F32 }));
    }
  },
};

const relu: LayerKind<KindOf<'relu'>> = {
  className: 'ReLU',
  plan: (p) => {
    const maxValue = p.cfg['maxValue'];
    if (maxValue !== null && maxValue !== undefined) return `ReLU ${p.layer.name} is capped at ${String(maxValue)}`;
    return { layer: { kind: 'relu' }, outRank: rankOf(p) };
  },
  forward: (_layer, { g, ins }) => ({ output: g.add('Relu', [ins[0]!], { T: F32 }) }),
  backward: (_layer, a) => {
    if (a.needBelow) a.send(a.from[0]!, a.g.add('ReluGrad', [a.d, a.output], { T: F32 }));
  },
};

const add: LayerKind<KindOf<'add'>> = {
  className: 'Add',
  manyInputs: true,
  plan: (p) => {
    const { layer, from } = p;
    if (from.length < 2) return `add ${layer.name} has ${from.length} input`;
    const shapes = from.map((_, k) => JSON.stringify((layer.input as tf.SymbolicTensor[])[k]!.shape));
    if (shapes.some((sh) => sh !== shapes[0]) || p.fromRanks.some((r) => r !== rankOf(p))) return `add ${layer.name} broadcasts (${shapes.join(' + ')})`;
    return { layer: { kind: 'add' }, outRank: rankOf(p) };
  },
  forward: (_layer, { g, ins }) => {
    // tfjs's Add layer: ((in0 + in1) + in2) + ...
    let h = ins[0]!;
    for (const other of ins.slice(1)) h = g.add('AddV2', [h, other], { T: F32 });
    return { output: h };
  },
  backward: (_layer, a) => {
    for (const id of a.from) if (id !== MODEL_INPUT || a.wants.input) a.send(id, a.d);
  },
};

const globalAvgPool: LayerKind<KindOf<'globalAvgPool'>> = {
  className: 'GlobalAveragePooling2D',
  plan: (p) => {
    if (rankOf(p) !== 4 || !p.knownImage || p.cfg['dataFormat'] !== 'channelsLast') return `layer ${p.layer.name}: unsupported pooling`;
    return { layer: { kind: 'globalAvgPool', inShape: [p.inDims[1]!, p.inDims[2]!, p.inDims[3]!] }, outRank: 2 };
  },
  forward: (_layer, { g, ins }) => ({ output: reduce(g, 'Mean', ins[0]!, [1, 2]) }),
  backward: (layer, a) => {
    if (!a.needBelow) return;
    const { g } = a;
    // The mean's gradient: dy / (h·w) at every position.
    const [h, w, c] = layer.inShape;
    const spread = g.add('BroadcastTo', [g.add('Reshape', [a.d, g.int32s([-1, 1, 1, c])], { T: F32, Tshape: { type: 'int32' } }), shapeOf(g, a.inputs[0]!)], {
      T: F32,
      Tidx: { type: 'int32' },
    });
    a.send(a.from[0]!, g.add('RealDiv', [spread, g.scalar(h * w)], { T: F32 }));
  },
};

/** The table, by plan kind. */
export const LAYER_KINDS: { readonly [K in PlanLayer['kind']]: LayerKind<KindOf<K>> } = { conv2d, dense, maxpool, flatten, batchnorm, relu, add, globalAvgPool };

/** The entry planning tfjs class `className`, if any. */
export function layerKindOfClass(className: string): LayerKind<PlanLayer> | undefined {
  return (Object.values(LAYER_KINDS) as LayerKind<PlanLayer>[]).find((k) => k.className === className);
}

/** The entry of a planned layer. */
export function layerKindOf(layer: PlanLayer): LayerKind<PlanLayer> {
  return LAYER_KINDS[layer.kind] as LayerKind<PlanLayer>;
}
