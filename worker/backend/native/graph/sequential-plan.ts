/**
 * Reads a tfjs-layers model into a plan the graph builders can emit as
 * TensorFlow ops: a DAG of Conv2D / MaxPooling2D / Flatten / Dense layers
 * with ReLU or linear activations, BatchNormalization (last axis), ReLU
 * layers, Add and GlobalAveragePooling2D (this project's mlp, small-cnn,
 * madry-cnn and preact-resnet), in topological order, each node with the ids
 * of the nodes it reads. Anything else (other layers or activations, shared
 * layers, several outputs) yields the reason it is not supported, naming the
 * layer, and callers run the model eagerly instead. What each layer class
 * becomes is its entry in layer-table.ts; this file walks the model's DAG.
 */
import type * as tf from '@tensorflow/tfjs';
import { layerKindOfClass } from './layer-table.js';
import { MODEL_INPUT, type PlanActivation, type PlanLayer } from './plan-layer.js';

export { MODEL_INPUT, type PlanActivation, type PlanLayer } from './plan-layer.js';

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
    const kind = layerKindOfClass(cls);
    if (layer.weights.length > 0 && !layer.trainable) return fail(`layer ${layer.name} has non-trainable weights`);
    if (layer.nonTrainableWeights.length > 0 && kind?.hasStatistics !== true) return fail(`layer ${layer.name} has non-trainable weights`);
    if (layer.inboundNodes.length !== 1) return fail(`layer ${layer.name} is applied ${layer.inboundNodes.length} times`);
    const inbound = layer.inboundNodes[0]!.inboundLayers;
    const from: number[] = [];
    for (const src of inbound) {
      const id = src.getClassName() === 'InputLayer' ? MODEL_INPUT : ids.get(src);
      if (id === undefined) return fail(`layer ${layer.name} reads ${src.name}, which is not planned before it`);
      from.push(id);
    }
    if (from.length === 0) return fail(`layer ${layer.name} has no input`);
    if (kind?.manyInputs !== true && from.length !== 1) return fail(`layer ${layer.name} has ${from.length} inputs`);
    const fromRanks = from.map((id) => (id === MODEL_INPUT ? 4 : ranks[id]!));
    const inDims = (Array.isArray(layer.input) ? layer.input[0]! : layer.input).shape;
    if (kind === undefined) return fail(`layer ${layer.name} is a ${cls}`);
    const planned = kind.plan({
      layer,
      cfg,
      from,
      fromRanks,
      inDims,
      knownImage: inDims.length === 4 && inDims.slice(1).every((d) => d !== null),
      act: activation(cfg['activation']),
      hasBias: cfg['useBias'] === true,
      weightIndex: (k) => weightIndex(layer, k),
      statIndex: (k) => statIndex(layer, k),
    });
    if (typeof planned === 'string') return fail(planned);
    layers.push(planned.layer);
    const id = layers.length - 1;
    ids.set(layer, id);
    ranks.push(planned.outRank);
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
