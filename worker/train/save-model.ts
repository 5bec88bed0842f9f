/**
 * Saving and loading a model in the TensorFlow.js Layers format on the local
 * file system: `model.json` (topology + weights manifest) and one
 * `weights.bin`. Pure `@tensorflow/tfjs` registers no `file://` handler
 * (that lives in tfjs-node, which is optional here), so these are our own
 * IOHandlers. The files are the standard format: `tf.loadLayersModel` in a
 * browser (over http) or tfjs-node (`file://`) reads them too.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../checkpoint/atomic-file.js';
import { explainFsError } from '../checkpoint/writable-dir.js';
import { DatError, wrapError } from '../../common/errors.js';

/** File names inside the model directory. */
export const MODEL_FILES = { json: 'model.json', weights: 'weights.bin' } as const;

/** Writes `path` atomically (and removes its temp file on failure), so a reader never sees half a file. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(path, data, { durable: false });
}

/** An IOHandler whose `save` writes `dir/model.json` and `dir/weights.bin`. */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new DatError('saving a binary model topology is not supported', { retryable: false });
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [MODEL_FILES.weights], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig !== undefined ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata !== undefined ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      try {
        await mkdir(dir, { recursive: true });
        await writeAtomic(join(dir, MODEL_FILES.weights), new Uint8Array(weightData));
        // model.json last: its presence means the weights are complete.
        await writeAtomic(join(dir, MODEL_FILES.json), JSON.stringify(modelJson));
      } catch (err) {
        throw explainFsError(err, 'save the model to', dir);
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** An IOHandler whose `load` reads a `model.json` (and the weight files it lists) from disk. */
export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (err) {
        throw wrapError(`failed to read model ${modelJsonPath}`, err);
      }
      const base = dirname(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const buf = await readFile(join(base, p));
            buffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** Saves `model` to `dir` (created if needed). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

/** Loads a model saved by {@link saveModel} (or any tfjs Layers model on disk). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileLoadHandler(join(dir, MODEL_FILES.json)));
}
