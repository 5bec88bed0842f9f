import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTrainArgs, readPath, toFlag, TRAIN_ARG_FIELDS } from '../../../operator/desired/train-args.js';
import { parseTrainArgs } from '../../../worker/cli/parse-args.js';
import type { DATJobCheckpointSpec, DATJobFinalEvaluationSpec, DATJobTrainingSpec } from '../../../operator/api/types.js';

const paths = { checkpointDir: '/ckpt', outputDir: '/ckpt/output' };
const ckpt: DATJobCheckpointSpec = { volume: { emptyDir: {} } };

test('toFlag turns camelCase options into kebab-case flags', () => {
  const cases = [
    { input: 'batchSize', want: '--batch-size' },
    { input: 'attackStepSize', want: '--attack-step-size' },
    { input: 'compressionWarmupSteps', want: '--compression-warmup-steps' },
    { input: 'eps', want: '--eps' },
  ] as const;
  for (const c of cases) assert.equal(toFlag(c.input), c.want, c.input);
});

test('buildTrainArgs renders the training spec into dat train flags', () => {
  const cases: { name: string; training: DATJobTrainingSpec; checkpoint?: DATJobCheckpointSpec; evaluation?: DATJobFinalEvaluationSpec; dataDir?: string; want: string[] }[] = [
    {
      name: 'minimal job passes only what is set',
      training: { dataset: 'mnist', model: 'mlp' },
      want: ['--dataset', 'mnist', '--model', 'mlp', '--checkpoint-dir', '/ckpt', '--output', '/ckpt/output'],
    },
    {
      name: 'full spec maps every field in a stable order',
      training: {
        dataset: 'cifar10',
        model: 'preact-resnet',
        limit: 1000,
        unlabeledFraction: 0.5,
        attack: { type: 'pgd', eps: 0.031, steps: 10, stepSize: 0.007, restarts: 1 },
        loss: { type: 'adv-clean', lambda: 1, beta: 6 },
        optimizer: { type: 'lamb', lr: 0.01, weightDecay: 0.0005, momentum: 0.9 },
        schedule: { type: 'step', warmupEpochs: 2, milestones: [30, 40], gamma: 0.1 },
        epochs: 50,
        batchSizePerWorker: 128,
        compression: { type: 'qsgd8', warmupSteps: 100 },
        evaluation: { everyEpochs: 5, attackSteps: 20, restarts: 2, size: 500 },
        seed: 7,
      },
      checkpoint: { volume: { claimName: 'c' }, everySteps: 25 },
      dataDir: '/data',
      want: [
        '--dataset', 'cifar10', '--data-dir', '/data', '--limit', '1000', '--unlabeled-fraction', '0.5',
        '--model', 'preact-resnet',
        '--attack', 'pgd', '--eps', '0.031', '--attack-steps', '10', '--attack-step-size', '0.007', '--attack-restarts', '1',
        '--loss', 'adv-clean', '--lambda', '1', '--beta', '6',
        '--optimizer', 'lamb', '--lr', '0.01', '--weight-decay', '0.0005', '--momentum', '0.9',
        '--schedule', 'step', '--warmup-epochs', '2', '--milestones', '30,40', '--gamma', '0.1',
        '--epochs', '50', '--batch-size', '128',
        '--eval-every', '5', '--eval-attack-steps', '20', '--eval-restarts', '2', '--eval-size', '500',
        '--compression', 'qsgd8', '--compression-warmup-steps', '100',
        '--seed', '7', '--checkpoint-dir', '/ckpt', '--checkpoint-every', '25', '--output', '/ckpt/output',
      ],
    },
    {
      name: 'spec.evaluation renders the final evaluation flags after the training ones',
      training: { dataset: 'mnist', model: 'mlp' },
      evaluation: { attacks: ['autoattack'], examples: 500, eps: 0.3 },
      want: ['--dataset', 'mnist', '--model', 'mlp', '--checkpoint-dir', '/ckpt', '--output', '/ckpt/output', '--final-eval', 'autoattack', '--final-eval-examples', '500', '--final-eval-eps', '0.3'],
    },
    {
      name: 'an attack list travels as one comma-separated token',
      training: { dataset: 'mnist', model: 'mlp' },
      evaluation: { attacks: ['pgd', 'square'] },
      want: ['--dataset', 'mnist', '--model', 'mlp', '--checkpoint-dir', '/ckpt', '--output', '/ckpt/output', '--final-eval', 'pgd,square'],
    },
    {
      name: 'zero values are passed, not dropped',
      training: { dataset: 'mnist', model: 'mlp', attack: { type: 'fgsm', restarts: 0 }, seed: 0 },
      want: ['--dataset', 'mnist', '--model', 'mlp', '--attack', 'fgsm', '--attack-restarts', '0', '--seed', '0', '--checkpoint-dir', '/ckpt', '--output', '/ckpt/output'],
    },
  ];
  for (const c of cases) {
    const got = buildTrainArgs(c.training, c.checkpoint ?? ckpt, { ...paths, dataDir: c.dataDir }, c.evaluation);
    assert.deepEqual(got, c.want, c.name);
  }
});

test('a spec that sets every rendered field reaches the worker with the same values (operator types and worker contract agree)', () => {
  // Every field TRAIN_ARG_FIELDS reads is set here, to a value other than the worker's default for cifar10.
  const training: DATJobTrainingSpec = {
    dataset: 'cifar10',
    model: 'small-cnn',
    augment: 'none',
    limit: 1000,
    testSize: 300,
    unlabeledFraction: 0.5,
    unlabeledData: 'fashion-mnist',
    unlabeledRatio: 0.3,
    teacherEpochs: 2,
    attack: { type: 'pgd', eps: 0.05, steps: 7, stepSize: 0.01, restarts: 2 },
    loss: { type: 'trades', lambda: 0.5, beta: 3 },
    optimizer: { type: 'lars', lr: 0.02, weightDecay: 0.001, momentum: 0.8 },
    schedule: { type: 'step', warmupEpochs: 1, milestones: [3, 4], gamma: 0.2 },
    epochs: 5,
    batchSizePerWorker: 64,
    compression: { type: 'sign-ef', warmupSteps: 10 },
    evaluation: { everyEpochs: 2, attackSteps: 5, restarts: 3, size: 200 },
    seed: 11,
    backend: 'wasm',
    collectiveTimeoutMs: 5000,
  };
  const checkpoint: DATJobCheckpointSpec = { volume: { claimName: 'c' }, everySteps: 25 };
  const evaluation: DATJobFinalEvaluationSpec = { attacks: ['square', 'apgd-ce'], examples: 64, eps: 0 };
  const spec = { training, checkpoint, evaluation };
  const parsed = parseTrainArgs(buildTrainArgs(training, checkpoint, { ...paths, dataDir: '/data' }, evaluation), { DAT_WORLD_SIZE: '2' });
  const problems: string[] = [];
  for (const { option, from } of TRAIN_ARG_FIELDS) {
    if (!('field' in from)) continue;
    const want = readPath(spec, from.field);
    if (want === undefined) problems.push(`spec.${from.field} is not set in this test`);
    else if (JSON.stringify(parsed[option]) !== JSON.stringify(want)) problems.push(`spec.${from.field} = ${JSON.stringify(want)} reached ${option} as ${JSON.stringify(parsed[option])}`);
  }
  assert.deepEqual(problems, []);
});
