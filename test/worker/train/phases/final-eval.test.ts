import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TrainOptions } from '../../../../common/contract.js';
import { silentLogger } from '../../../../common/log.js';
import type { Split } from '../../../../worker/data/types.js';
import { evaluateShard, type ShardPlan } from '../../../../worker/eval/evaluate-shard.js';
import { selectBackend } from '../../../../worker/backend/select-backend.js';
import { parseTrainArgs } from '../../../../worker/cli/parse-args.js';
import { identityReducer } from '../../../../worker/comm/collective.js';
import type { RunMetrics } from '../../../../worker/train/metrics.js';
import { runTraining, type TrainProgress } from '../../../../worker/train/run-training.js';
import {
  buildFinalEvaluation,
  FINAL_EVAL_MAX_BATCH,
  packOutcome,
  planFinalEvaluation,
  unpackOutcome,
  wantsFinalEvaluation,
} from '../../../../worker/train/phases/final-eval.js';

await selectBackend('wasm', silentLogger);

const SHAPE = [1, 1, 2] as const;
const split = (n: number): Split => ({ n, x: new Float32Array(n * 2), y: new Int32Array(n) });

describe('final evaluation: plan', () => {
  const opts = (argv: string[]): TrainOptions => parseTrainArgs(argv);
  const cases: { name: string; argv: string[]; n: number; rank: number; world: number; want: Partial<ShardPlan> }[] = [
    { name: 'autoattack expands; 1000 examples at the training eps', argv: ['--final-eval', 'autoattack'], n: 2000, rank: 0, world: 1, want: { attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'], eps: 0.3, nExamples: 1000, batchSize: FINAL_EVAL_MAX_BATCH } },
    { name: 'K capped by the held-out split; 0 = all', argv: ['--final-eval', 'pgd', '--final-eval-examples', '0'], n: 300, rank: 0, world: 1, want: { nExamples: 300, batchSize: 300 } },
    { name: 'the batch shrinks so every rank gets one', argv: ['--final-eval', 'pgd', '--final-eval-examples', '1000'], n: 2000, rank: 3, world: 4, want: { nExamples: 1000, batchSize: 250, rank: 3, worldSize: 4 } },
    { name: 'the given eps and seed', argv: ['--final-eval', 'square,pgd', '--final-eval-eps', '0', '--seed', '9'], n: 50, rank: 0, world: 1, want: { attacks: ['square', 'pgd'], eps: 0, seed: 9, nExamples: 50 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = planFinalEvaluation(opts(c.argv), split(c.n), SHAPE, c.rank, c.world);
      const picked = Object.fromEntries(Object.keys(c.want).map((k) => [k, got[k as keyof ShardPlan]]));
      assert.deepEqual(picked, c.want);
    });
  }
  it('none (the default) asks for nothing', () => {
    assert.equal(wantsFinalEvaluation(opts([])), false);
    assert.equal(wantsFinalEvaluation(opts(['--final-eval', 'none'])), false);
    assert.equal(wantsFinalEvaluation(opts(['--final-eval', 'pgd'])), true);
  });
});

describe('final evaluation: merging the ranks', () => {
  // A fixed linear 3-class model: the class is the larger pixel, or 2 when both are small.
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [...SHAPE] }), tf.layers.dense({ units: 3 })] });
  model.layers[1]!.setWeights([tf.tensor2d([[10, 0, 0], [0, 10, 0]]), tf.tensor1d([0, 0, 3])]);
  const n = 7;
  const pixels = [0.9, 0.1, 0.1, 0.9, 0.55, 0.45, 0.1, 0.05, 0.1, 0.1, 0.45, 0.55, 0.7, 0.3];
  const data: Split = { n, x: Float32Array.from(pixels), y: Int32Array.from([0, 1, 0, 2, 0, 1, 0]) };

  it('the summed buffers of 3 ranks give the single process outcome, and each attack its slowest rank', async () => {
    const plan = (rank: number, worldSize: number): ShardPlan => ({ attacks: ['pgd', 'apgd-ce'], eps: 0.1, seed: 3, batchSize: 2, nExamples: n, rank, worldSize, inputShape: SHAPE });
    const whole = await evaluateShard(model, data, plan(0, 1));
    const sum = new Float32Array(packOutcome(whole, plan(0, 3)).length);
    const shards = await Promise.all([0, 1, 2].map((r) => evaluateShard(model, data, plan(r, 3))));
    shards.forEach((s, r) => packOutcome(s, plan(r, 3)).forEach((v, i) => (sum[i]! += v)));
    const merged = unpackOutcome(sum, plan(0, 3));
    assert.deepEqual({ indices: merged.indices, clean: merged.clean, robustAfter: merged.robustAfter }, { indices: whole.indices, clean: whole.clean, robustAfter: whole.robustAfter });
    assert.deepEqual(merged.clean, [1, 1, 1, 1, 0, 1, 1]);
    // 0.55/0.45 and 0.45/0.55 lie within 0.1 of the boundary: PGD flips them.
    assert.deepEqual(merged.robustAfter[0], [1, 1, 0, 1, 0, 0, 1]);
    assert.deepEqual(merged.seconds, [0, 1].map((a) => Math.max(...shards.map((s) => s.seconds[a]!))).map((v) => Math.fround(v)));
    const report = buildFinalEvaluation(plan(0, 3), merged, 1.5);
    assert.deepEqual(
      { attacks: report.attacks, eps: report.eps, examples: report.examples, clean: report.cleanAccuracy, robust: report.robustAccuracy, perAttack: report.perAttack.map((p) => p.robustAccuracy), seconds: report.seconds },
      { attacks: ['pgd', 'apgd-ce'], eps: 0.1, examples: 7, clean: 6 / 7, robust: 4 / 7, perAttack: [4 / 7, 4 / 7], seconds: 1.5 },
    );
  });
});

describe('final evaluation: the finish phase', () => {
  it('attacks the final model and writes finalEvaluation into metrics.json and the done report', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'dat-final-eval-'));
    try {
      // Adam: four steps of the MNIST default (LAMB at lr 0.03) leave an MLP near chance, and this test needs a model that learned something.
      const opts = parseTrainArgs([
        '--limit', '128', '--batch-size', '32', '--epochs', '1', '--model', 'mlp', '--attack', 'fgsm', '--optimizer', 'adam', '--eval-size', '20', '--eval-attack-steps', '2',
        '--final-eval', 'pgd,apgd-ce', '--final-eval-examples', '24', '--output', out,
      ]);
      const reports: TrainProgress[] = [];
      const before = tf.memory().numTensors;
      const { metrics } = await runTraining(opts, { rank: 0, worldSize: 1, reducer: identityReducer, log: silentLogger, isChief: true, onProgress: (p) => reports.push(p) });
      assert.equal(tf.memory().numTensors, before, 'the evaluation frees what it allocates');
      const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
      const fe = written.finalEvaluation;
      assert.ok(fe !== undefined, 'metrics.json has finalEvaluation');
      assert.deepEqual({ attacks: fe.attacks, norm: fe.norm, eps: fe.eps, examples: fe.examples }, { attacks: ['pgd', 'apgd-ce'], norm: 'linf', eps: 0.3, examples: 24 });
      assert.equal(fe.perAttack.length, 2);
      assert.ok(fe.perAttack[1]!.robustAccuracy <= fe.perAttack[0]!.robustAccuracy && fe.perAttack[0]!.robustAccuracy <= fe.cleanAccuracy, JSON.stringify(fe));
      assert.equal(fe.robustAccuracy, fe.perAttack[1]!.robustAccuracy);
      assert.ok(fe.cleanAccuracy > 0.2, `an MLP after one epoch classifies some digits: clean ${fe.cleanAccuracy}`);
      assert.ok(fe.seconds > 0 && fe.perAttack.every((p) => p.seconds >= 0));
      assert.deepEqual(metrics.finalEvaluation, fe);
      const done = reports.at(-1)!;
      assert.equal(done.phase, 'done');
      assert.deepEqual(done.finalEvaluation, fe, 'the last report (the termination message) carries it');
      assert.ok(reports.filter((r) => r.phase === 'evaluating').length >= 1);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('without --final-eval nothing is added', { timeout: 60_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'dat-final-eval-'));
    try {
      const opts = parseTrainArgs(['--limit', '64', '--batch-size', '32', '--epochs', '1', '--model', 'mlp', '--attack', 'fgsm', '--eval-size', '10', '--eval-attack-steps', '1', '--output', out]);
      const { metrics } = await runTraining(opts, { rank: 0, worldSize: 1, reducer: identityReducer, log: silentLogger, isChief: true });
      assert.equal(metrics.finalEvaluation, undefined);
      const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
      assert.equal('finalEvaluation' in written, false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
