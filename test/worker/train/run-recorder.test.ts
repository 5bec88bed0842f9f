/**
 * A real (tiny, in-process) training run writes TensorBoard event files and
 * curves.svg on the chief; TensorBoard's own EventAccumulator reads every
 * value back, compared with what the loop reported for each step.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { parseTrainArgs } from '../../../worker/cli/parse-args.js';
import { CURVES_FILE, TENSORBOARD_DIR } from '../../../worker/train/metrics.js';
import { TENSORBOARD_TAGS, formatConfigMarkdown } from '../../../worker/train/run-recorder.js';
import { runTraining, type TrainProgress } from '../../../worker/train/run-training.js';
import { epsWarmupFactor, learningRateAt } from '../../../worker/train/schedules.js';
import { silentLogger } from '../../../common/log.js';
import { readTensorBoard } from '../../support/tensorboard-reader.js';

const ARGS = ['--dataset', 'mnist', '--limit', '160', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1'];

describe('run recorder (TensorBoard and curves of a real run)', () => {
  it('writes every step and evaluation, read back exactly by tensorboard, and curves.svg', { timeout: 300_000 }, async () => {
    await selectBackend('cpu', silentLogger);
    const out = await mkdtemp(join(tmpdir(), 'dat-rec-'));
    try {
      const opts = parseTrainArgs([...ARGS, '--epochs', '3', '--eval-every', '2', '--eps-warmup-epochs', '2', '--schedule', 'cosine', '--warmup-epochs', '1', '--output', out]);
      const steps: TrainProgress[] = [];
      let lastBytes = 0;
      const tStart = Date.now() / 1000;
      const { metrics } = await runTraining(opts, {
        rank: 0,
        worldSize: 1,
        // A stand-in ring: "sends" a step-dependent byte count, so each step's bytes_sent is known.
        reducer: async (flat, step) => {
          lastBytes = 4 * flat.length + step;
          return flat;
        },
        bytesSentLastStep: () => lastBytes,
        log: silentLogger,
        isChief: true,
        onProgress: (p) => {
          if (p.phase === 'training' && p.stepTiming !== undefined) steps.push(p);
        },
      });
      const tEnd = Date.now() / 1000;
      const stepsPerEpoch = 160 / 32;
      assert.equal(steps.length, 3 * stepsPerEpoch);

      const logDir = join(out, TENSORBOARD_DIR);
      const tb = await readTensorBoard(logDir);
      assert.equal(Object.keys(tb.files).length, 1);
      const schedule = { schedule: opts.schedule, lr: opts.lr, warmupEpochs: opts.warmupEpochs, epochs: opts.epochs, milestones: opts.milestones, gamma: opts.gamma };
      const want: Record<string, number[][]> = {};
      const put = (tag: string, step: number, v: number): void => void (want[tag] ??= []).push([step, Math.fround(v)]);
      for (const p of steps) {
        const t = p.stepTiming!;
        const g = p.step; // 1-based global step
        const epochFloat = (g - 1) / stepsPerEpoch;
        put(TENSORBOARD_TAGS.loss, g, p.loss!);
        put(TENSORBOARD_TAGS.lr, g, learningRateAt(schedule, epochFloat, stepsPerEpoch));
        put(TENSORBOARD_TAGS.eps, g, opts.eps * epsWarmupFactor(2, epochFloat, stepsPerEpoch));
        put(TENSORBOARD_TAGS.imagesPerSecond, g, p.imagesPerSecond!);
        put(TENSORBOARD_TAGS.allreduceMs, g, t.allreduceSeconds * 1000);
        put(TENSORBOARD_TAGS.bytesSent, g, 4 * 269_322 + (g - 1));
        put(TENSORBOARD_TAGS.attackMs, g, t.attackSeconds * 1000);
        put(TENSORBOARD_TAGS.gradientMs, g, t.gradientSeconds * 1000);
        put(TENSORBOARD_TAGS.updateMs, g, t.updateSeconds * 1000);
      }
      for (const r of metrics.history) {
        if (r.cleanAccuracy === undefined) continue; // not an evaluation epoch (--eval-every)
        put(TENSORBOARD_TAGS.cleanAccuracy, r.epoch * stepsPerEpoch, r.cleanAccuracy!);
        put(TENSORBOARD_TAGS.robustAccuracy, r.epoch * stepsPerEpoch, r.robustAccuracy!);
      }
      assert.deepEqual(Object.keys(tb.scalars).sort(), Object.keys(want).sort());
      for (const [tag, series] of Object.entries(want)) {
        assert.deepEqual(tb.scalars[tag]!.map((e) => [e.step, e.value]), series, `${tag}: -want +got`);
        for (const e of tb.scalars[tag]!) assert.ok(e.wallTime >= tStart - 1 && e.wallTime <= tEnd + 1, `${tag} wall time ${e.wallTime}`);
      }
      // The eps ramp and the cosine schedule really vary (the comparison above is not of constants).
      assert.ok(new Set(want[TENSORBOARD_TAGS.eps]!.map(([, v]) => v)).size > 3);
      assert.ok(new Set(want[TENSORBOARD_TAGS.lr]!.map(([, v]) => v)).size > 3);
      // --eval-every 2 over 3 epochs: after epoch 2 and after the last.
      assert.deepEqual(want[TENSORBOARD_TAGS.cleanAccuracy]!.map(([s]) => s), [2 * stepsPerEpoch, 3 * stepsPerEpoch]);

      const config = tb.tensors[TENSORBOARD_TAGS.config]!;
      assert.equal(config.plugin, 'text');
      assert.deepEqual(config.events.map((e) => [e.step, e.strings]), [[0, [formatConfigMarkdown(opts, 1)]]]);
      assert.match(config.events[0]!.strings[0]!, /^\| model \| mlp \|$/m);

      const svg = await readFile(join(out, CURVES_FILE), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      for (const title of ['Held-out accuracy', 'Training loss', 'Training throughput (all ranks)', 'robust (PGD-1)', 'epochs completed']) assert.ok(svg.includes(title), `curves.svg lacks "${title}"`);
      assert.ok(!svg.includes('Bytes sent per step'), 'one worker: no bytes panel');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('writes nothing on a rank that is not the chief', { timeout: 120_000 }, async () => {
    await selectBackend('cpu', silentLogger);
    const out = await mkdtemp(join(tmpdir(), 'dat-rec-'));
    try {
      const opts = parseTrainArgs([...ARGS, '--epochs', '1', '--output', out]);
      await runTraining(opts, { rank: 0, worldSize: 1, reducer: async (f) => f, log: silentLogger, isChief: false });
      assert.deepEqual(await readdir(out), []);
      await assert.rejects(stat(join(out, TENSORBOARD_DIR)));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
