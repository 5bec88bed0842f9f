/**
 * Emits a {@link ModelPlan}'s forward pass and its backward pass (input
 * gradient, weight gradients, or both) as TensorFlow graph nodes. The
 * backward pass is written out by hand from each layer's derivative, as
 * tfjs-node has no graph-mode autodiff.
 */
import type { GraphBuilder } from './graph-def.js';
import type { PlanLayer } from './sequential-plan.js';

const F32 = { type: 'float32' } as const;

/** A layer's input and (post-activation) output nodes, which its gradient needs. */
interface LayerTrace {
  readonly layer: PlanLayer;
  readonly input: string;
  readonly output: string;
}

/** Result of {@link emitForward}. */
export interface ForwardTrace {
  readonly logits: string;
  readonly layers: readonly LayerTrace[];
}

function strides4(s: readonly [number, number]): { ints: number[] } {
  return { ints: [1, s[0], s[1], 1] };
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

/** Forward pass of `layers` on `x`; `weights[i]` feeds trainable weight i. */
export function emitForward(g: GraphBuilder, layers: readonly PlanLayer[], x: string, weights: readonly string[]): ForwardTrace {
  const trace: LayerTrace[] = [];
  let h = x;
  for (const layer of layers) {
    const input = h;
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
    }
    if ((layer.kind === 'conv2d' || layer.kind === 'dense') && layer.bias !== null) h = g.add('BiasAdd', [h, weights[layer.bias]!], { T: F32 });
    if ((layer.kind === 'conv2d' || layer.kind === 'dense') && layer.activation === 'relu') h = g.add('Relu', [h], { T: F32 });
    trace.push({ layer, input, output: h });
  }
  return { logits: h, layers: trace };
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
 * Back-propagates `dLogits` (d loss / d logits) through `fwd`. Stops below the
 * lowest layer whose gradient is wanted.
 */
export function emitBackward(
  g: GraphBuilder,
  fwd: ForwardTrace,
  dLogits: string,
  weights: readonly string[],
  wants: BackwardWants,
): BackwardResult {
  const dW: string[] = new Array<string>(weights.length);
  let d = dLogits;
  for (let i = fwd.layers.length - 1; i >= 0; i--) {
    const { layer, input, output: out } = fwd.layers[i]!;
    const needBelow = i > 0 || wants.input;
    switch (layer.kind) {
      case 'dense':
      case 'conv2d': {
        if (layer.activation === 'relu') d = g.add('ReluGrad', [d, out], { T: F32 });
        if (wants.weights && layer.bias !== null) dW[layer.bias] = g.add('BiasAddGrad', [d], { T: F32 });
        const kernel = weights[layer.kernel]!;
        if (layer.kind === 'dense') {
          if (wants.weights) dW[layer.kernel] = g.add('MatMul', [input, d], { T: F32, transpose_a: { b: true }, transpose_b: { b: false } });
          if (needBelow) d = g.add('MatMul', [d, kernel], { T: F32, transpose_a: { b: false }, transpose_b: { b: true } });
        } else {
          const conv = { T: F32, strides: strides4(layer.strides), padding: { s: layer.padding } };
          if (wants.weights) dW[layer.kernel] = g.add('Conv2DBackpropFilter', [input, g.add('Shape', [kernel], { T: F32, out_type: { type: 'int32' } }), d], conv);
          if (needBelow) d = g.add('Conv2DBackpropInput', [g.add('Shape', [input], { T: F32, out_type: { type: 'int32' } }), kernel, d], wants.eigenFewChannels ? inputGradAttrs(layer, conv) : conv);
        }
        break;
      }
      case 'maxpool':
        if (needBelow) {
          d = g.add('MaxPoolGrad', [input, out, d], { T: F32, ksize: strides4(layer.poolSize), strides: strides4(layer.strides), padding: { s: layer.padding } });
        }
        break;
      case 'flatten':
        if (needBelow) d = g.add('Reshape', [d, g.add('Shape', [input], { T: F32, out_type: { type: 'int32' } })], { T: F32, Tshape: { type: 'int32' } });
        break;
    }
  }
  return { ...(wants.input ? { input: d } : {}), weights: dW };
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

