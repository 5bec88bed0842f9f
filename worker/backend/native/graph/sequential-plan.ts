/**
 * Reads a tfjs-layers model into a plan the graph builders can emit as
 * TensorFlow ops: a DAG of Conv2D / MaxPooling2D / Flatten / Dense layers
 * with ReLU or linear activations, BatchNormalization (last axis), ReLU
 * layers, Add and GlobalAveragePooling2D (this project's mlp, small-cnn,
 * madry-cnn and preact-resnet), in topological order, each node with the ids
 * of the nodes it reads. Anything else (other layers or activations, shared
 * layers, several outputs) yields the reason it is not supported, naming the
 * layer, and callers run the model eagerly instead.
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
  | { readonly kind: 'dense'; readonly activation: PlanActivation; readonly kernel: number; readonly bias: number | null }
  /**
   * BatchNormalization over the last axis of a [n, h, w, c] input. `gamma`
   * and `beta` index `model.trainableWeights`; `movingMean` and
   * `movingVariance` index `model.nonTrainableWeights`.
   */
  | {
      readonly kind: 'batchnorm';
      readonly channels: number;
      readonly gamma: number;
      readonly beta: number;
      readonly movingMean: number;
      readonly movingVariance: number;
      readonly epsilon: number;
      readonly momentum: number;
    }
  /** A ReLU layer (max(x, 0), no cap). */
  | { readonly kind: 'relu' }
  /** Elementwise sum of the node's inputs (2 or more, equal shapes), summed in input order. */
  | { readonly kind: 'add' }
  /** Mean over h and w of a [n, h, w, c] input: [n, c]. */
  | { readonly kind: 'globalAvgPool'; readonly inShape: readonly [number, number, number] };

/** Node id of the model's input in {@link ModelPlanOk.inputs}. */
export const MODEL_INPUT = -1;

/** A plan the graphs can run. */
export interface ModelPlanOk {
  readonly ok: true;
  /** The nodes in topological order. */
  readonly layers: readonly PlanLayer[];
  /** `inputs[i]`: the node ids node i reads ({@link MODEL_INPUT} for the model input), in argument order. */
  readonly inputs: readonly (readonly number[])[];
  /** The node whose output is the logits. */
  readonly output: number;
  readonly inputShape: readonly [number, number, number];
  readonly numWeights: number;
  /** `model.nonTrainableWeights.length` (BatchNorm moving statistics). */
  readonly numNonTrainable: number;
}

/** A model the graphs can run, or why not. */
export type ModelPlan = ModelPlanOk | { readonly ok: false; readonly reason: string };

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
export function planModel(model: tf.LayersModel): ModelPlan {
  const fail = (reason: string): ModelPlan => ({ ok: false, reason: `${model.name}: ${reason}` });
  const inShape = model.inputs.length === 1 ? model.inputs[0]!.shape : undefined;
  if (inShape === undefined || inShape.length !== 4 || inShape.slice(1).some((d) => d === null)) {
    return fail('needs one input of shape [batch, h, w, c]');
  }
  if (model.outputs.length !== 1) return fail(`has ${model.outputs.length} outputs`);
  const weights = model.trainableWeights;
  const nonTrainable = model.nonTrainableWeights;
  const used = new Set<number>();
  const weightIndex = (layer: tf.layers.Layer, k: number): number => {
    const i = weights.indexOf(layer.trainableWeights[k]!);
    if (i < 0) throw new Error(`layer ${layer.name}: weight ${k} is not a trainable weight of the model`);
    used.add(i);
    return i;
  };
  const statIndex = (layer: tf.layers.Layer, k: number): number => {
    const i = nonTrainable.indexOf(layer.nonTrainableWeights[k]!);
    if (i < 0) throw new Error(`layer ${layer.name}: non-trainable weight ${k} is not one of the model's`);
    return i;
  };
  const layers: PlanLayer[] = [];
  const inputs: number[][] = [];
  // Node id and output rank of each planned layer.
  const ids = new Map<tf.layers.Layer, number>();
  const ranks: number[] = [];
  const consumers: number[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Config;
    if (cls === 'InputLayer') continue;
    if (layer.weights.length > 0 && !layer.trainable) return fail(`layer ${layer.name} has non-trainable weights`);
    if (layer.nonTrainableWeights.length > 0 && cls !== 'BatchNormalization') return fail(`layer ${layer.name} has non-trainable weights`);
    if (layer.inboundNodes.length !== 1) return fail(`layer ${layer.name} is applied ${layer.inboundNodes.length} times`);
    const inbound = layer.inboundNodes[0]!.inboundLayers;
    const from: number[] = [];
    for (const src of inbound) {
      const id = src.getClassName() === 'InputLayer' ? MODEL_INPUT : ids.get(src);
      if (id === undefined) return fail(`layer ${layer.name} reads ${src.name}, which is not planned before it`);
      from.push(id);
    }
    if (from.length === 0) return fail(`layer ${layer.name} has no input`);
    if (cls !== 'Add' && from.length !== 1) return fail(`layer ${layer.name} has ${from.length} inputs`);
    const rank = from[0] === MODEL_INPUT ? 4 : ranks[from[0]!]!;
    let outRank = rank;
    const act = activation(cfg['activation']);
    const hasBias = cfg['useBias'] === true;
    const inDims = (Array.isArray(layer.input) ? layer.input[0]! : layer.input).shape;
    const knownImage = inDims.length === 4 && inDims.slice(1).every((d) => d !== null);
    switch (cls) {
      case 'Conv2D': {
        const pad = padding(cfg['padding']);
        if (rank !== 4) return fail(`conv ${layer.name} after a flatten`);
        if (act === undefined) return fail(`layer ${layer.name} has activation ${String(cfg['activation'])}`);
        if (pad === undefined) return fail(`layer ${layer.name} has padding ${String(cfg['padding'])}`);
        if (cfg['dataFormat'] !== 'channelsLast') return fail(`layer ${layer.name} is not channels-last`);
        if (pair(cfg['dilationRate'], 'dilationRate').some((d) => d !== 1)) return fail(`layer ${layer.name} is dilated`);
        if (!knownImage) return fail(`layer ${layer.name} has an unknown input shape`);
        layers.push({
          kind: 'conv2d',
          inShape: [inDims[1]!, inDims[2]!, inDims[3]!],
          kernelSize: pair(cfg['kernelSize'], 'kernelSize'),
          strides: pair(cfg['strides'], 'strides'),
          padding: pad,
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
        outRank = 2;
        break;
      }
      case 'Dense':
        if (rank !== 2) return fail(`dense ${layer.name} on a rank-${rank} input`);
        if (act === undefined) return fail(`layer ${layer.name} has activation ${String(cfg['activation'])}`);
        layers.push({ kind: 'dense', activation: act, kernel: weightIndex(layer, 0), bias: hasBias ? weightIndex(layer, 1) : null });
        break;
      case 'BatchNormalization': {
        const axis = cfg['axis'];
        if (rank !== 4 || !knownImage) return fail(`batch norm ${layer.name} on a rank-${rank} input`);
        if (axis !== -1 && axis !== 3) return fail(`batch norm ${layer.name} normalizes axis ${JSON.stringify(axis)}, not the last`);
        if (cfg['center'] !== true || cfg['scale'] !== true) return fail(`batch norm ${layer.name} lacks gamma or beta`);
        const epsilon = cfg['epsilon'];
        const momentum = cfg['momentum'];
        if (typeof epsilon !== 'number' || typeof momentum !== 'number') return fail(`batch norm ${layer.name} has no numeric epsilon/momentum`);
        // tfjs adds gamma, beta (trainable), then moving mean, moving variance.
        const names = layer.weights.map((w) => w.originalName.split('/').pop());
        if (names.join(',') !== 'gamma,beta,moving_mean,moving_variance') return fail(`batch norm ${layer.name} has weights ${names.join(', ')}`);
        layers.push({
          kind: 'batchnorm',
          channels: inDims[3]!,
          gamma: weightIndex(layer, 0),
          beta: weightIndex(layer, 1),
          movingMean: statIndex(layer, 0),
          movingVariance: statIndex(layer, 1),
          epsilon,
          momentum,
        });
        break;
      }
      case 'ReLU': {
        const maxValue = cfg['maxValue'];
        if (maxValue !== null && maxValue !== undefined) return fail(`ReLU ${layer.name} is capped at ${String(maxValue)}`);
        layers.push({ kind: 'relu' });
        break;
      }
      case 'Add': {
        if (from.length < 2) return fail(`add ${layer.name} has ${from.length} input`);
        const shapes = inbound.map((_, k) => JSON.stringify((layer.input as tf.SymbolicTensor[])[k]!.shape));
        if (shapes.some((sh) => sh !== shapes[0]) || from.some((id) => (id === MODEL_INPUT ? 4 : ranks[id]!) !== rank)) {
          return fail(`add ${layer.name} broadcasts (${shapes.join(' + ')})`);
        }
        layers.push({ kind: 'add' });
        break;
      }
      case 'GlobalAveragePooling2D':
        if (rank !== 4 || !knownImage || cfg['dataFormat'] !== 'channelsLast') return fail(`layer ${layer.name}: unsupported pooling`);
        layers.push({ kind: 'globalAvgPool', inShape: [inDims[1]!, inDims[2]!, inDims[3]!] });
        outRank = 2;
        break;
      default:
        return fail(`layer ${layer.name} is a ${cls}`);
    }
    const id = layers.length - 1;
    ids.set(layer, id);
    ranks.push(outRank);
    consumers.push(0);
    inputs.push(from);
    for (const src of from) if (src !== MODEL_INPUT) consumers[src]!++;
  }
  const outLayer = model.outputs[0]!.sourceLayer;
  const output = ids.get(outLayer);
  if (output === undefined) return fail('the output is not a planned layer');
  if (ranks[output] !== 2) return fail('the output is not [batch, classes]');
  // A node nobody reads (a dead branch) would be computed for nothing; not a model this project builds.
  const dead = consumers.findIndex((k, i) => k === 0 && i !== output);
  if (dead >= 0) return fail(`layer ${model.layers.find((l) => ids.get(l) === dead)!.name} does not reach the output`);
  if (used.size !== weights.length) return fail('some trainable weights are not used by the plan');
  return { ok: true, layers, inputs, output, inputShape: [inShape[1]!, inShape[2]!, inShape[3]!], numWeights: weights.length, numNonTrainable: nonTrainable.length };
}

/** The former name of {@link planModel}, when it planned plain stacks only. */
export const planSequentialModel = planModel;
