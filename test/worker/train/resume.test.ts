import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain as runTrainIn, type RunOutcome } from '../../support/run-train.js';
import { buildCifarBatch, makeDataDir, removeDir } from '../../fixtures/data/dataset-files.js';
import { listCompleteCheckpoints, stepDirName, writeCheckpoint } from '../../../worker/checkpoint/checkpoint-store.js';
import type { ProgressReport } from '../../../common/contract.js';
import type { RunMetrics } from '../../../worker/train/metrics.js';
import { agreeOnResumeCheckpoint, readTrainCheckpoint, writeTrainCheckpoint, type CheckpointRing } from '../../../worker/train/resume.js';
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../../worker/checkpoint/checkpoint-part.js';
import { buildRunFingerprint } from '../../../worker/train/run-config.js';
import { resolveTrainOptions } from '../../../worker/cli/defaults.js';
import { createLogger, silentLogger } from '../../../common/log.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dat-resume-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const TINY_FINGERPRINT = buildRunFingerprint(resolveTrainOptions({ model: 'mlp', dataset: 'mnist', optimizer: 'sgd', seed: 1, batchSize: 1 }), {
  worldSize: 2,
  trainExamples: 8,
  weightCount: 2,
});

/** The run's state at `step` (one `run` part standing for weights, optimizer and position). */
function tinyRunState(step: number): SavedPart {
  return { meta: { epoch: 0, stepInEpoch: step, globalStep: step }, tensors: new Map([['weights', Float32Array.from([step, -step])]]) };
}

/**
 * A rank's parts at `step`: the run state (saved by rank 0 only), its own
 * residuals, and its own BatchNorm statistics (ranks > 0).
 */
function tinyParts(rank: number, step: number): CheckpointPart[] {
  const load = (): void => {};
  return [
    { key: 'run', scope: PART_SCOPES.run, required: true, save: () => tinyRunState(step), load },
    { key: 'residual', scope: PART_SCOPES.rank, save: () => ({ tensors: new Map([[`worker/${rank}`, Float32Array.of(rank + 0.5)]]) }), load },
    { key: 'batch-norm', scope: PART_SCOPES.rank, save: () => (rank === 0 ? undefined : { tensors: new Map([['statistics', Float32Array.of(step * 10)]]) }), load },
  ];
}

/** Two in-process "ranks" whose broadcast hands rank 0's buffer to both (a stand-in for the ring's broadcast). */
function pairRings(log: (line: string) => void): [CheckpointRing, CheckpointRing] {
  let resolveRoot!: (b: Float32Array) => void;
  const root = new Promise<Float32Array>((r) => (resolveRoot = r));
  const ring = (rank: number): CheckpointRing => ({
    rank,
    worldSize: 2,
    log: rank === 0 ? createLogger({}, log) : silentLogger,
    broadcastWeights: async (flat) => {
      if (rank === 0) resolveRoot(flat.slice());
      return root;
    },
  });
  return [ring(0), ring(1)];
}

describe('agreeOnResumeCheckpoint + readTrainCheckpoint (two ranks, one shared volume)', () => {
  it('rank 0 picks the newest complete step for both, warns about the unfinished newer one, and each rank gets its own residuals', async () => {
    await withDir(async (dir) => {
      const lines: string[] = [];
      const [r0, r1] = pairRings((l) => lines.push(l));
      const header = { fingerprint: TINY_FINGERPRINT };
      for (const step of [4, 8]) {
        await writeTrainCheckpoint(dir, r1, step, tinyParts(1, step), header);
        await writeTrainCheckpoint(dir, r0, step, tinyParts(0, step), header);
      }
      // Step 12: rank 0 finished, rank 1 was killed before its manifest.
      await writeCheckpoint(dir, { step: 12, rank: 0, worldSize: 2, tensors: new Map(), meta: {} });

      const [ref0, ref1] = await Promise.all([agreeOnResumeCheckpoint(dir, r0, tinyParts(0, 0)), agreeOnResumeCheckpoint(dir, r1, tinyParts(1, 0))]);
      assert.equal(ref0?.step, 8);
      assert.equal(ref1?.step, 8);
      assert.equal(ref1?.dir, join(dir, stepDirName(8)));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /WARN Skipped checkpoint step=12 reason="rank 1 has not finished writing \(no manifest\)"/);

      const got0 = await readTrainCheckpoint(ref0!, r0, tinyParts(0, 0));
      const got1 = await readTrainCheckpoint(ref1!, r1, tinyParts(1, 0));
      const runState = { scope: PART_SCOPES.run, ...tinyRunState(8) };
      assert.deepEqual(got0.parts.get('run'), runState);
      assert.deepEqual(got1.parts.get('run'), runState, 'every rank reads rank 0 model state');
      assert.deepEqual(got1.fingerprint, TINY_FINGERPRINT);
      assert.deepEqual(got0.parts.get('residual')?.tensors, new Map([['worker/0', Float32Array.of(0.5)]]));
      assert.deepEqual(got1.parts.get('residual')?.tensors, new Map([['worker/1', Float32Array.of(1.5)]]));
      assert.deepEqual(got1.parts.get('batch-norm')?.tensors.get('statistics'), Float32Array.of(80), "rank 1's own BatchNorm statistics");
      assert.equal(got0.parts.get('batch-norm'), undefined);
    });
  });

  it('an empty directory means a fresh start on every rank', async () => {
    await withDir(async (dir) => {
      const [r0, r1] = pairRings(() => {});
      assert.deepEqual(await Promise.all([agreeOnResumeCheckpoint(join(dir, 'none'), r0, []), agreeOnResumeCheckpoint(join(dir, 'none'), r1, [])]), [undefined, undefined]);
    });
  });
});

// ---- Real processes: `dat train` killed with SIGKILL and restarted ----

/** Tiny but real: 512 MNIST digits, 8 steps per epoch, 2 epochs, a checkpoint every 3 steps. */
const TRAIN_ARGS = [
  'train',
  '--dataset', 'mnist',
  '--limit', '512',
  '--model', 'mlp',
  '--attack', 'fgsm-rs',
  '--eps-warmup-epochs', '1',
  '--epochs', '2',
  '--batch-size', '64',
  '--checkpoint-every', '3',
  '--backend', 'wasm',
  '--eval-size', '50',
  '--eval-attack-steps', '2',
  '--seed', '5',
  '--progress', 'json',
];
const TOTAL_STEPS = 16;
/** Mid-interval (after the step-6 checkpoint, before step 9's), so the resumed run repeats the lost steps. */
const KILL_AT_STEP = 7;


/** `dat train` on TRAIN_ARGS (or `baseArgs`) plus `extraArgs` into `dir` (see test/support/run-train.ts). */
function runTrain(dir: string, killWhen?: (p: ProgressReport) => boolean, extraArgs: readonly string[] = [], baseArgs: readonly string[] = TRAIN_ARGS): Promise<RunOutcome> {
  return runTrainIn(dir, [...baseArgs, ...extraArgs], killWhen);
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** What must match between runs: the saved weights bits, the step count and the per-epoch numbers (not the timings). */
async function finalState(dir: string, r: RunOutcome): Promise<{ weights: string; lastStep: number | undefined; history: unknown[] }> {
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}; stderr:\n${r.stderr}`);
  const m = JSON.parse(await readFile(join(dir, 'output', 'metrics.json'), 'utf8')) as RunMetrics;
  const done = r.reports.at(-1);
  assert.equal(done?.phase, 'done');
  return {
    weights: await sha256File(join(dir, 'output', 'model', 'weights.bin')),
    lastStep: done?.step,
    history: m.history.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest),
  };
}

/** `args` without the given flags and their values. */
function withoutFlags(args: readonly string[], flags: readonly string[]): string[] {
  return args.filter((a, i) => !flags.includes(a) && !flags.includes(args[i - 1] ?? ''));
}

function resumedStep(stderr: string): number | undefined {
  const m = /INFO Resumed from checkpoint step=(\d+) epoch=\d+/.exec(stderr);
  return m === null ? undefined : Number(m[1]);
}

describe('dat train killed with SIGKILL and restarted (real processes)', () => {
  it('resumes from the newest complete checkpoint with bit-identical final weights, and skips a corrupted one', { timeout: 120_000 }, async () => {
    await withDir(async (root) => {
      const straightDir = join(root, 'straight');
      const killedDir = join(root, 'killed');
      // The uninterrupted reference and the run to kill, side by side (one core each).
      const [straight, killed] = await Promise.all([
        runTrain(straightDir),
        runTrain(killedDir, (p) => p.phase === 'training' && p.step >= KILL_AT_STEP),
      ]);
      const want = await finalState(straightDir, straight);
      assert.equal(want.lastStep, TOTAL_STEPS);
      assert.equal(want.history.length, 2);
      assert.equal(resumedStep(straight.stderr), undefined, 'a fresh directory starts from scratch');

      assert.equal(killed.signal, 'SIGKILL', `the run was killed (exit ${killed.code}); stderr:\n${killed.stderr}`);
      const killedAt = killed.reports.filter((p) => p.phase === 'training').at(-1)!.step;
      const { complete } = await listCompleteCheckpoints(join(killedDir, 'ckpt'), 1);
      const newest = complete[0]?.step;
      assert.ok(newest !== undefined && newest >= 6 && newest <= killedAt, `newest complete checkpoint ${newest}, killed after step ${killedAt}`);

      // Restart: continues at the checkpoint, ends identical.
      const resumed = await runTrain(killedDir);
      assert.equal(resumedStep(resumed.stderr), newest, resumed.stderr);
      const firstTraining = resumed.reports.find((p) => p.phase === 'training');
      assert.equal(firstTraining?.step, newest, 'progress continues from the checkpointed step, not zero');
      assert.deepEqual(await finalState(killedDir, resumed), want);

      // The newest checkpoint (the final one, step 16) corrupted: reported, and step 15 used instead.
      const { complete: afterRun } = await listCompleteCheckpoints(join(killedDir, 'ckpt'), 1);
      assert.deepEqual(afterRun.map((c) => c.step), [TOTAL_STEPS, TOTAL_STEPS - 1], 'pruning keeps the newest two');
      const file = await open(join(killedDir, 'ckpt', stepDirName(TOTAL_STEPS), 'rank-0.ckpt'), 'r+');
      try {
        const { size } = await file.stat();
        const byte = Buffer.alloc(1);
        await file.read(byte, 0, 1, Math.floor(size / 2));
        byte[0] = byte[0]! ^ 0xff;
        await file.write(byte, 0, 1, Math.floor(size / 2));
      } finally {
        await file.close();
      }
      const afterCorruption = await runTrain(killedDir);
      assert.match(afterCorruption.stderr, new RegExp(`WARN Skipped checkpoint step=${TOTAL_STEPS} reason=.*SHA-256 checksum \\(corrupted\\)`));
      assert.equal(resumedStep(afterCorruption.stderr), TOTAL_STEPS - 1);
      assert.deepEqual(await finalState(killedDir, afterCorruption), want);
    });
  });

  it('a local ring of 2 sign-ef workers killed mid-epoch resumes on both ranks from the step rank 0 chose, bit-identical (residuals restored)', { timeout: 120_000 }, async () => {
    await withDir(async (root) => {
      // sign-ef from step 2: bit-identity after the resume needs every rank's error-feedback residuals back.
      const ring = ['--workers', '2', '--batch-size', '32', '--compression', 'sign-ef', '--compression-warmup-steps', '2'];
      const dir = join(root, 'killed');
      const [straight, killed] = await Promise.all([
        runTrain(join(root, 'straight'), undefined, ring),
        runTrain(dir, (p) => p.phase === 'training' && p.step >= KILL_AT_STEP, ring),
      ]);
      const want = await finalState(join(root, 'straight'), straight);
      assert.equal(want.lastStep, TOTAL_STEPS);
      assert.equal(killed.signal, 'SIGKILL', `the ring was killed (exit ${killed.code}); stderr:\n${killed.stderr}`);
      const resumed = await runTrain(dir, undefined, ring);
      const steps = [...resumed.stderr.matchAll(/\[rank (\d)\].*INFO Resumed from checkpoint rank=\d step=(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
      assert.equal(steps.length, 2, `both ranks resumed; stderr:\n${resumed.stderr}`);
      assert.ok(steps[0]![1] >= 6 && steps[0]![1] === steps[1]![1], `same step on both ranks: ${JSON.stringify(steps)}`);
      assert.deepEqual(await finalState(dir, resumed), want);
    });
  });

  it('cifar10 with crop-flip augmentation killed mid-epoch resumes bit-identical (augmentation seeded by seed, epoch, step, rank)', { timeout: 180_000 }, async () => {
    // Generated CIFAR-format files: 5 x 64 training records, 64 test records.
    const files: Record<string, Uint8Array> = { 'test_batch.bin': buildCifarBatch(64, 1000) };
    for (let b = 0; b < 5; b++) files[`data_batch_${b + 1}.bin`] = buildCifarBatch(64, b * 64);
    const dataDir = await makeDataDir(files);
    try {
      await withDir(async (root) => {
        const cifar = [...withoutFlags(TRAIN_ARGS, ['--dataset', '--limit', '--batch-size']), '--dataset', 'cifar10', '--data-dir', dataDir, '--batch-size', '32', '--eps', '8/255'];
        // 320 examples at batch 32: 10 steps an epoch, 20 in all; killed after the step-6 checkpoint.
        const [straight, killed, plain] = await Promise.all([
          runTrain(join(root, 'straight'), undefined, ['--augment', 'crop-flip'], cifar),
          runTrain(join(root, 'killed'), (p) => p.phase === 'training' && p.step >= KILL_AT_STEP, ['--augment', 'crop-flip'], cifar),
          runTrain(join(root, 'plain'), undefined, ['--augment', 'none'], cifar),
        ]);
        const want = await finalState(join(root, 'straight'), straight);
        assert.equal(want.lastStep, 20);
        // Guard: the augmentation changes training, so bit-identity below is about its seeding.
        assert.notEqual((await finalState(join(root, 'plain'), plain)).weights, want.weights, 'crop-flip made no difference to the trained weights');
        assert.equal(killed.signal, 'SIGKILL', `the run was killed (exit ${killed.code}); stderr:\n${killed.stderr}`);
        const resumed = await runTrain(join(root, 'killed'), undefined, ['--augment', 'crop-flip'], cifar);
        const step = resumedStep(resumed.stderr);
        assert.ok(step !== undefined && step >= 6 && step < 20, `resumed mid-run; stderr:\n${resumed.stderr}`);
        assert.deepEqual(await finalState(join(root, 'killed'), resumed), want);
      });
    } finally {
      await removeDir(dataDir);
    }
  });
});
