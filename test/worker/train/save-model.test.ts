import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { silentLogger } from '../../../common/log.js';
import { createModel } from '../../../worker/train/models/index.js';
import { fileLoadHandler, loadModel, MODEL_FILES, saveModel } from '../../../worker/train/save-model.js';

describe('saveModel / loadModel', () => {
  before(async () => {
    await selectBackend('cpu', silentLogger);
  });

  for (const id of ['mlp', 'small-cnn'] as const) {
    it(`round-trips ${id} through model.json + weights.bin`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dat-save-'));
      try {
        const model = createModel(id, [28, 28, 1], 10, 5);
        await saveModel(model, dir);
        const json = JSON.parse(await readFile(join(dir, MODEL_FILES.json), 'utf8')) as tf.io.ModelJSON;
        assert.equal(json.format, 'layers-model');
        assert.deepEqual(json.weightsManifest[0]!.paths, [MODEL_FILES.weights]);
        const bytes = (await readFile(join(dir, MODEL_FILES.weights))).length;
        assert.equal(bytes, 4 * model.countParams());

        const loaded = await tf.loadLayersModel(fileLoadHandler(join(dir, MODEL_FILES.json)));
        const again = await loadModel(dir);
        const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 9);
        const [a, b, c] = [model, loaded, again].map((m) => m.predict(x) as tf.Tensor);
        assert.deepEqual(await b!.array(), await a!.array());
        assert.deepEqual(await c!.array(), await a!.array());
        tf.dispose([x, a!, b!, c!]);
        [model, loaded, again].forEach((m) => m.dispose());
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('names the file when model.json is missing', async () => {
    await assert.rejects(loadModel('/nonexistent-dat-dir'), /nonexistent-dat-dir\/model\.json/);
  });
});
