import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { runEntry, type EntryRun } from '../../support/run-entry.js';
import { parseProgressLine } from '../../../worker/cli/progress-display.js';
import type { RunMetrics } from '../../../worker/train/metrics.js';
import { loadModel } from '../../../worker/train/save-model.js';
import { runTraining, type TrainProgress } from '../../../worker/train/run-training.js';
import { identityReducer } from '../../../worker/comm/collective.js';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { parseTrainArgs } from '../../../worker/cli/parse-args.js';
import { silentLogger } from '../../../common/log.js';

const run = (args: readonly string[]): Promise<EntryRun> => runEntry('worker/main', args);

const isFraction = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;

describe('dat train (real CLI, tiny run)', () => {
  it('trains 2 epochs on 256 MNIST digits and writes metrics.json and a loadable model', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'dat-run-'));
    try {
      const r = await run([
        'train',
        '--dataset', 'mnist',
        '--limit', '256',
        '--epochs', '2',
        '--model', 'mlp',
        '--attack', 'fgsm-rs',
        '--backend', 'wasm',
        '--batch-size', '32',
        '--eval-size', '100',
        '--eval-attack-steps', '5',
        '--unlabeled-fraction', '0.25',
        '--teacher-epochs', '1',
        '--progress', 'json',
        '--output', out,
      ]);
      assert.equal(r.code, 0, `exit code ${r.code}; stderr:\n${r.stderr}`);

      const m = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
      assert.ok(isFraction(m.cleanAccuracy) && isFraction(m.robustAccuracy), `accuracies ${m.cleanAccuracy} ${m.robustAccuracy}`);
      assert.ok(m.robustAccuracy <= m.cleanAccuracy);
      assert.deepEqual(m.robustAttack, { name: 'pgd', eps: 0.3, steps: 5, restarts: 1, stepSize: 0.15 });
      assert.equal(m.evalExamples, 100);
      assert.equal(m.history.length, 2);
      for (const h of m.history) {
        assert.ok(Number.isFinite(h.loss) && h.imagesPerSecond > 0 && h.seconds > 0 && h.lr > 0, JSON.stringify(h));
        assert.ok(isFraction(h.guardAccuracy), 'fgsm-rs training records the overfitting probe');
      }
      assert.ok(isFraction(m.history[1]!.cleanAccuracy) && isFraction(m.history[1]!.robustAccuracy), 'last epoch is evaluated');
      assert.equal(m.config.attackStepSize, 0.375, 'fgsm-rs step defaults to 1.25 eps');
      assert.equal(m.config.loss, 'adv', 'fgsm-rs trains on the adversarial loss only');
      assert.equal(m.backend, 'wasm');
      assert.equal(m.trainExamples, 192, 'the labelled examples: --unlabeled-fraction 0.25 moved 64 of the 256 to the pool');
      assert.match(r.stderr, /Pseudo-labeled unlabeled examples with a teacher labeled=192 unlabeled=64/);

      // Progress: one JSON object per stdout line, ending with `done`.
      const reports = r.stdout.trim().split('\n').map(parseProgressLine);
      assert.ok(reports.every((p) => p !== undefined), 'every stdout line is a progress object');
      const last = reports.at(-1) as { phase: string; step: number; totalSteps: number };
      assert.equal(last.phase, 'done');
      assert.equal(last.step, last.totalSteps);

      await tf.setBackend('cpu');
      const model = await loadModel(join(out, 'model'));
      const logits = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
      assert.deepEqual(logits.shape, [2, 10]);
      tf.dispose(logits);
      model.dispose();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('runTraining (in process)', () => {
  it('keeps the tensor count flat over steps, frees everything, and writes nothing on a non-chief rank', { timeout: 60_000 }, async () => {
    await selectBackend('wasm', silentLogger);
    const out = join(tmpdir(), `dat-nonchief-${process.pid}`);
    const opts = parseTrainArgs(['--limit', '160', '--batch-size', '16', '--epochs', '2', '--model', 'mlp', '--attack', 'pgd', '--attack-steps', '2', '--eval-size', '50', '--eval-attack-steps', '2', '--output', out]);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const phases: string[] = [];
    const { metrics, modelDir } = await runTraining(opts, {
      rank: 0,
      worldSize: 1,
      reducer: identityReducer,
      log: silentLogger,
      isChief: false,
      onProgress: (p: TrainProgress) => {
        if (p.phase === 'training') counts.push(tf.memory().numTensors);
        if (phases.at(-1) !== p.phase) phases.push(p.phase);
      },
    });
    assert.equal(counts.length, 20);
    assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts.join(',')}`);
    assert.equal(tf.memory().numTensors, before, 'model, optimizer state and batches are disposed');
    assert.deepEqual(phases, ['starting', 'training', 'evaluating', 'done']);
    assert.equal(modelDir, undefined);
    await assert.rejects(readFile(join(out, 'metrics.json')), /ENOENT/);
    assert.equal(metrics.history.length, 2);
    assert.equal(metrics.history[0]!.cleanAccuracy, undefined, 'evalEvery 5: epoch 1 is not evaluated');
  });
});
