/**
 * Reads a tfjs-layers model into a plan the graph builders can emit as
 * TensorFlow ops: a plain stack of Conv2D / MaxPooling2D / Flatten / Dense
 * layers with ReLU or linear activations (this project's mlp, small-cnn and
 * madry-cnn). Anything else (BatchNorm, residual connections, other
 * activations) yields the reason it is not supported, and callers run the
 * model eagerly instead.
 */
import type * as tf from '@tensorflow/tfjs';

/** Activations the graphs implement. */
export type PlanActivation = 'relu' | 'linear';

/** One layer of a plan; weight fields index `model.trainableWeights`. */
export type PlanLayer =
  | {
      readonly kind: 'conv2d';
      /** [h, w, c] of the layer's input. */
      readonly inShape: readonly [number, number, number];
      readonly kernelSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'SAME' | 'VALID';
      readonly activation: PlanActivation;
      readonly kernel: number;
      readonly bias: number | null;
    }
  | {
      readonly kind: 'maxpool';
      readonly poolSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'SAME' | 'VALID';
    }
  /** `size`: features per example after flattening. */
  | { readonly kind: 'flatten'; readonly size: number }
  | { readonly kind: 'dense'; readonly activation: PlanActivation; readonly kernel: number; readonly bias: number | null };

/** A model the graphs can run, or why not. */
export type ModelPlan =
  | { readonly ok: true; readonly layers: readonly PlanLayer[]; readonly inputShape: readonly [number, number, number]; readonly numWeights: number }
  | { readonly ok: false; readonly reason: string };

type Config = Record<string, unknown>;

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number];
  throw new Error(`${what}: expected a number or a pair, got ${JSON.stringify(v)}`);
}

function padding(v: unknown): 'SAME' | 'VALID' | undefined {
  return v === 'same' ? 'SAME' : v === 'valid' ? 'VALID' : undefined;
}

function activation(v: unknown): PlanActivation | undefined {
  return v === 'relu' || v === 'linear' ? v : undefined;
}

/** Reads `model` into a plan; pure apart from reading the model's config. */
export function planSequentialModel(model: tf.LayersModel): ModelPlan {
  const fail = (reason: string): ModelPlan => ({ ok: false, reason: `${model.name}: ${reason}` });
  const inShape = model.inputs.length === 1 ? model.inputs[0]!.shape : undefined;
  if (inShape === undefined || inShape.length !== 4 || inShape.slice(1).some((d) => d === null)) {
    return fail('needs one input of shape [batch, h, w, c]');
  }
  if (model.outputs.length !== 1) return fail(`has ${model.outputs.length} outputs`);
  const weights = model.trainableWeights;
  const used = new Set<number>();
  const weightIndex = (layer: tf.layers.Layer, k: number): number => {
    const i = weights.indexOf(layer.trainableWeights[k]!);
    if (i < 0) throw new Error(`layer ${layer.name}: weight ${k} is not a trainable weight of the model`);
    used.add(i);
    return i;
  };
  const layers: PlanLayer[] = [];
  let rank = 4;
  let previous: tf.layers.Layer | undefined;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Config;
    if (cls === 'InputLayer') continue;
    if (layer.nonTrainableWeights.length > 0 || (layer.weights.length > 0 && !layer.trainable)) return fail(`layer ${layer.name} has non-trainable weights`);
    const inbound = layer.inboundNodes.length === 1 ? layer.inboundNodes[0]!.inboundLayers : [];
    // Each layer must read exactly the one before it (the input layer for the first).
    const fromPrevious = inbound.length === 1 && (previous === undefined ? inbound[0]!.getClassName() === 'InputLayer' : inbound[0] === previous);
    if (!fromPrevious) return fail(`layer ${layer.name} is not part of a plain stack`);
    previous = layer;
    const act = activation(cfg['activation']);
    const hasBias = cfg['useBias'] === true;
    switch (cls) {
      case 'Conv2D': {
        const pad = padding(cfg['padding']);
        if (rank !== 4) return fail(`conv ${layer.name} after a flatten`);
        if (act === undefined) return fail(`layer ${layer.name} has activation ${String(cfg['activation'])}`);
        if (pad === undefined) return fail(`layer ${layer.name} has padding ${String(cfg['padding'])}`);
        if (cfg['dataFormat'] !== 'channelsLast') return fail(`layer ${layer.name} is not channels-last`);
        if (pair(cfg['dilationRate'], 'dilationRate').some((d) => d !== 1)) return fail(`layer ${layer.name} is dilated`);
        const kernelSize = pair(cfg['kernelSize'], 'kernelSize');
        const strides = pair(cfg['strides'], 'strides');
        // libtensorflow 2.9.1's oneDNN filter gradient corrupts the heap for 1x1 strided convs (../conv2d-backprop-filter-kernel.ts); the eager path works around it.
        if (kernelSize[0] === 1 && kernelSize[1] === 1 && (strides[0] > 1 || strides[1] > 1)) return fail(`layer ${layer.name} is a strided 1x1 conv (libtensorflow 2.9.1 filter-gradient bug)`);
        const inDims = (layer.input as tf.SymbolicTensor).shape;
        if (inDims.length !== 4 || inDims.slice(1).some((d) => d === null)) return fail(`layer ${layer.name} has an unknown input shape`);
        layers.push({
          kind: 'conv2d',
          inShape: [inDims[1]!, inDims[2]!, inDims[3]!],
          kernelSize,
          strides, padding: pad,
          activation: act,
          kernel: weightIndex(layer, 0),
          bias: hasBias ? weightIndex(layer, 1) : null,
        });
        break;
      }
      case 'MaxPooling2D': {
        const pad = padding(cfg['padding']);
        if (rank !== 4 || pad === undefined || cfg['dataFormat'] !== 'channelsLast') return fail(`layer ${layer.name}: unsupported pooling`);
        const poolSize = pair(cfg['poolSize'], 'poolSize');
        layers.push({ kind: 'maxpool', poolSize, strides: cfg['strides'] === null ? poolSize : pair(cfg['strides'], 'strides'), padding: pad });
        break;
      }
      case 'Flatten': {
        const outDims = layer.outputShape as (number | null)[];
        if (rank !== 4 || outDims.length !== 2 || outDims[1] === null) return fail(`flatten ${layer.name} of a rank-${rank} input`);
        layers.push({ kind: 'flatten', size: outDims[1]! });
        rank = 2;
        break;
      }
      case 'Dense':
        if (rank !== 2) return fail(`dense ${layer.name} on a rank-${rank} input`);
        if (act === undefined) return fail(`layer ${layer.name} has activation ${String(cfg['activation'])}`);
        layers.push({ kind: 'dense', activation: act, kernel: weightIndex(layer, 0), bias: hasBias ? weightIndex(layer, 1) : null });
        break;
      default:
        return fail(`layer ${layer.name} is a ${cls}`);
    }
  }
  if (rank !== 2) return fail('the output is not [batch, classes]');
  if (previous === undefined || model.outputs[0]!.sourceLayer !== previous) return fail('the output is not the last layer of the stack');
  if (used.size !== weights.length) return fail('some trainable weights are not used by the plan');
  return { ok: true, layers, inputShape: [inShape[1]!, inShape[2]!, inShape[3]!], numWeights: weights.length };
}
