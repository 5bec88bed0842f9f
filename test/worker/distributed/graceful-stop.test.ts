/**
 * Graceful stop in real processes: a SIGTERM stops the run at the next step
 * boundary with a checkpoint there, on every rank of a pod-mode gang, and a
 * restart resumes from that step (not from the last periodic checkpoint).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT_CODES } from '../../../common/contract.js';
import { listCompleteCheckpoints } from '../../../worker/checkpoint/checkpoint-store.js';
import { startDatTrain, type DatTrainRun } from '../../support/dat-train-process.js';
import { preparePodModeGang } from '../../support/pod-mode-ranks.js';
import { datCommand } from '../../support/paths.js';

/** 2,048 digits in batches of 32 per rank; no periodic checkpoint, so only the stop writes one mid-epoch. */
const ARGS = ['--dataset', 'mnist', '--limit', '2048', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1', '--backend', 'cpu', '--progress', 'json', '--epochs', '1', '--checkpoint-every', '100000'];

/** The step of the newest training progress report of `run`. */
function latestStep(run: DatTrainRun): number {
  let step = 0;
  for (const l of run.lines) {
    if (!l.startsWith('{')) continue;
    const p = JSON.parse(l) as { phase?: string; step?: number };
    if (p.phase === 'training' && typeof p.step === 'number') step = p.step;
  }
  return step;
}

/** Resolves to the newest step once `run` reported training step `min` or later. */
async function waitForStep(run: DatTrainRun, min: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const step = latestStep(run);
    if (step >= min) return step;
    if (Date.now() > deadline) throw new Error(`no training step >= ${min} within ${timeoutMs} ms; last lines:\n${run.lines.slice(-10).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first training step `run` reported after resuming. */
function firstStep(run: DatTrainRun): number | undefined {
  for (const l of run.lines) {
    if (!l.startsWith('{')) continue;
    const p = JSON.parse(l) as { phase?: string; step?: number; stepSeconds?: number };
    if (p.phase === 'training' && p.stepSeconds !== undefined) return p.step;
  }
  return undefined;
}

describe('graceful stop', { timeout: 240_000 }, () => {
  test('a pod-mode gang: SIGTERM to rank 1 stops both ranks at one step with a checkpoint, and the gang resumes there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-stop-'));
    try {
      const gang = await preparePodModeGang(dir, 2);
      const args = (rank: number): string[] => [...ARGS, '--checkpoint-dir', join(dir, 'ck'), '--output', join(dir, `out-${rank}`)];

      // Step 1: train until rank 0 is past step 3, then SIGTERM rank 1 (as the kubelet does when its pod is deleted).
      const runs = await gang.start(args);
      const before = await waitForStep(runs[0]!, 3);
      runs[1]!.child.kill('SIGTERM');
      const exits = await Promise.all(runs.map((r) => r.exited));

      // Step 2: rank 1 exits 143, rank 0 as after a peer failure; both name the same step, at or after the signal.
      assert.equal(exits[1]!.code, EXIT_CODES.terminated, runs[1]!.lines.slice(-10).join('\n'));
      assert.equal(exits[0]!.code, EXIT_CODES.peerFailure, runs[0]!.lines.slice(-10).join('\n'));
      const own = await runs[1]!.waitForLine(/dat: error: received SIGTERM: saved the checkpoint at step (\d+)/, 1000);
      const peer = await runs[0]!.waitForLine(/dat: error: stopping with rank 1, which received a stop signal: saved the checkpoint at step (\d+)/, 1000);
      const step = Number(own[1]);
      assert.equal(Number(peer[1]), step, 'both ranks stopped at the same step');
      assert.ok(step >= before, `stopped at step ${step}, after step ${before} was reported`);
      assert.match(await readFile(gang.termLogs[0]!, 'utf8'), new RegExp(`stopping with rank 1.*at step ${step}`), 'the operator reads the cause from rank 0');

      // Step 3: the checkpoint at that step is complete (both ranks' files).
      const { complete } = await listCompleteCheckpoints(join(dir, 'ck'), 2);
      assert.deepEqual(complete.map((c) => c.step), [step]);

      // Step 4: the restarted gang resumes at the next step and finishes.
      const again = await gang.start(args);
      const ends = await Promise.all(again.map((r) => r.exited));
      for (const [rank, e] of ends.entries()) assert.equal(e.code, 0, `rank ${rank}:\n${again[rank]!.lines.slice(-10).join('\n')}`);
      assert.equal(firstStep(again[0]!), step + 1, 'the first step after the restart follows the stop');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('one process: SIGTERM mid-epoch exits 143 with a checkpoint at or after the step reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-stop-'));
    try {
      const run = startDatTrain([...ARGS, '--checkpoint-dir', join(dir, 'ck'), '--output', join(dir, 'out')], {}, { command: datCommand() });
      const before = await waitForStep(run, 3);
      run.child.kill('SIGTERM');
      await run.waitForLine(/received SIGTERM: stopping after the current step, with a checkpoint \(SIGTERM again stops at once\)/, 30_000);
      const exit = await run.exited;
      assert.equal(exit.code, EXIT_CODES.terminated, run.lines.slice(-10).join('\n'));
      const { complete } = await listCompleteCheckpoints(join(dir, 'ck'), 1);
      assert.equal(complete.length, 1);
      assert.ok(complete[0]!.step >= before, `checkpoint at step ${complete[0]!.step}, after step ${before} was reported`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the local launcher: SIGINT stops every worker after a checkpoint at one step, exits 130, and a rerun resumes there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-stop-'));
    try {
      const args = [...ARGS, '--workers', '2', '--checkpoint-dir', join(dir, 'ck'), '--output', join(dir, 'out')];
      const run = startDatTrain(args);
      const before = await waitForStep(run, 3);
      run.child.kill('SIGINT');
      const exit = await run.exited;
      assert.equal(exit.code, EXIT_CODES.interrupted, run.lines.slice(-10).join('\n'));
      assert.ok(run.lines.some((l) => l.startsWith('dat: stopped by SIGINT after every worker saved a checkpoint')), run.lines.slice(-10).join('\n'));
      const steps = [0, 1].map((rank) => Number(run.lines.map((l) => new RegExp(`^\\[rank ${rank}\\] dat: error: received SIGTERM: saved the checkpoint at step (\\d+)`).exec(l)?.[1]).find((m) => m !== undefined)));
      assert.equal(steps[1], steps[0], 'both workers stopped at the same step');
      assert.ok(steps[0]! >= before, `stopped at step ${steps[0]}, after step ${before} was reported`);
      const { complete } = await listCompleteCheckpoints(join(dir, 'ck'), 2);
      assert.deepEqual(complete.map((c) => c.step), [steps[0]]);

      const again = startDatTrain(args);
      assert.equal((await again.exited).code, 0, again.lines.slice(-10).join('\n'));
      assert.equal(firstStep(again), steps[0]! + 1, 'the rerun resumes at the next step');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('without a checkpoint directory, SIGTERM ends the process at once (nothing to save)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-stop-'));
    try {
      const run = startDatTrain([...ARGS, '--output', join(dir, 'out')], {}, { command: datCommand() });
      await waitForStep(run, 3);
      run.child.kill('SIGTERM');
      const exit = await run.exited;
      assert.equal(exit.signal, 'SIGTERM', 'killed by the default action');
      assert.ok(!run.lines.some((l) => l.includes('stopping after the current step')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
