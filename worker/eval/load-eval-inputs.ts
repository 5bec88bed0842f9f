/**
 * Loading what `dat eval` attacks: the model (this project's or a foreign
 * TensorFlow.js layers model) and the test split, with errors that name the
 * flag or file and say what to change.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DatasetId } from '../../common/contract.js';
import { loadDataset } from '../data/load-dataset.js';
import type { Dataset } from '../data/types.js';
import { fileLoadHandler, MODEL_FILES } from '../train/save-model.js';
import { ConfigError, DataError, getErrorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';

/** The path of model.json for `--model` (a directory or the file itself). */
export function resolveModelJson(model: string): string {
  const path = existsSync(model) && statSync(model).isDirectory() ? join(model, MODEL_FILES.json) : model;
  if (!existsSync(path)) throw new ConfigError(`--model ${model}: no ${basename(path) === MODEL_FILES.json ? MODEL_FILES.json : 'such file'} at ${path} (expected a directory written by dat train --output DIR, i.e. DIR/model, or a TensorFlow.js model.json)`);
  return path;
}

/** Turns tfjs's model-loading failures into ConfigErrors naming the file. */
function explainLoadError(path: string, err: unknown): ConfigError {
  const msg = getErrorMessage(err);
  const layer = /Unknown layer: ([^.\s]+)/.exec(msg);
  if (layer !== null) {
    return new ConfigError(`--model ${path}: unknown layer type ${layer[1]}: TensorFlow.js has no such layer (a custom layer must be registered with tf.serialization.registerClass before dat eval can load it)`, err);
  }
  return new ConfigError(`--model ${path}: cannot load the model: ${msg}`, err);
}

/** Loads a layers model from disk with the project's file:// handler (works without tfjs-node). */
export async function loadEvalModel(model: string): Promise<tf.LayersModel> {
  const path = resolveModelJson(model);
  try {
    return await tf.loadLayersModel(fileLoadHandler(path));
  } catch (err) {
    throw explainLoadError(path, err);
  }
}

/**
 * Whether the model's output is a softmax. The margin and DLR losses of the
 * AutoAttack ensemble assume logits; on probabilities they saturate, and an
 * evaluation overstates robustness (seen here: APGD-T left 4.5% robust on a
 * softmax copy of a model it brought to 2.0%).
 */
export function endsInSoftmax(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const activation = (last?.getConfig() as { activation?: unknown } | undefined)?.activation;
  return last?.getClassName() === 'Softmax' || activation === 'softmax';
}

/** The dataset id and data directory `--dataset` (and `--data-dir`) name. */
export function resolveDatasetSource(dataset: string, dataDir: string | undefined): { id: DatasetId; dataDir?: string } {
  if (dataset === 'mnist' || dataset === 'fashion-mnist') return { id: dataset };
  if (dataset === 'cifar10') {
    if (dataDir === undefined) throw new ConfigError('missing --data-dir: --dataset cifar10 is read from the CIFAR-10 binary files in a directory');
    return { id: 'cifar10', dataDir };
  }
  if (!existsSync(dataset) || !statSync(dataset).isDirectory()) {
    throw new ConfigError(`invalid value ${JSON.stringify(dataset)} for --dataset: expected mnist, fashion-mnist, cifar10 or a directory of IDX / CIFAR-10 binary files`);
  }
  const names = readdirSync(dataset);
  const isIdx = names.some((n) => n.startsWith('t10k-images'));
  return { id: isIdx ? 'mnist-idx' : 'cifar10', dataDir: dataset };
}

/** Loads the dataset and returns it (its test split is what is attacked). */
export async function loadEvalDataset(dataset: string, dataDir: string | undefined, log: Logger): Promise<Dataset> {
  const src = resolveDatasetSource(dataset, dataDir);
  return loadDataset({ dataset: src.id, dataDir: src.dataDir, seed: 0, log });
}

/**
 * Checks the model takes the dataset's images and scores its classes:
 * input [null, h, w, c] and output [null, numClasses].
 */
export function checkModelFitsData(model: tf.LayersModel, modelFlag: string, data: Dataset): void {
  const input = model.inputs[0]!.shape;
  const want = [null, ...data.inputShape];
  if (input.length !== want.length || input.some((d, i) => i > 0 && d !== want[i])) {
    throw new DataError(
      `--dataset ${data.name} does not fit --model ${modelFlag}: the model takes inputs [${input.map(String).join(', ')}], the dataset's images are [${data.inputShape.join(', ')}] (height, width, channels)`,
    );
  }
  const output = model.outputs[0]!.shape;
  if (output.length !== 2 || output[1] !== data.numClasses) {
    throw new DataError(`--dataset ${data.name} does not fit --model ${modelFlag}: the model outputs [${output.map(String).join(', ')}], the dataset has ${data.numClasses} classes`);
  }
}
