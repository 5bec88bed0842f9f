/**
 * Robust self-training killed and resumed (real processes): `dat train
 * --unlabeled-data` SIGKILLed mid-run restarts from its checkpoint with the
 * teacher's labels restored (the teacher is not trained again) and ends with
 * weights bit-identical to an uninterrupted run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryCommand, REPO_ROOT } from '../../../support/paths.js';
import type { ProgressReport } from '../../../../common/contract.js';
import { parseProgressLine } from '../../../../worker/cli/progress-display.js';
import { listCompleteCheckpoints } from '../../../../worker/checkpoint/checkpoint-store.js';
import { readTrainCheckpoint } from '../../../../worker/train/resume.js';
import { TEACHER_PART } from '../../../../worker/train/state/teacher-part.js';
import { silentLogger } from '../../../../common/log.js';

/**
 * 512 labelled MNIST digits plus the other 7,488 training digits as the
 * pool; batch 64 at ratio 0.5 gives 32 labelled per step, so 16 steps per
 * epoch, 2 epochs, a checkpoint every 3 steps.
 */
const TRAIN_ARGS = [
  'train',
  '--dataset', 'mnist',
  '--limit', '512',
  '--unlabeled-data', 'mnist',
  '--unlabeled-ratio', '0.5',
  '--teacher-epochs', '1',
  '--model', 'mlp',
  '--attack', 'fgsm-rs',
  '--epochs', '2',
  '--batch-size', '64',
  '--checkpoint-every', '3',
  '--backend', 'wasm',
  '--eval-size', '50',
  '--eval-attack-steps', '2',
  '--seed', '5',
  '--progress', 'json',
];
const TOTAL_STEPS = 32;
/** After the step-9 checkpoint, before step 12's. */
const KILL_AT_STEP = 10;
const TRAINED = /INFO Pseudo-labeled unlabeled examples with a teacher labeled=512 unlabeled=7488/g;
const RESTORED = /INFO Restored teacher from checkpoint unlabeled=7488/;

interface RunOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly reports: ProgressReport[];
}

/** Runs `dat train` into `dir`; SIGKILLs its process group at the first report where `killWhen` holds. */
function runTrain(dir: string, killWhen?: (p: ProgressReport) => boolean): Promise<RunOutcome> {
  const [cmd, ...pre] = entryCommand('worker/main');
  const args = [...pre, ...TRAIN_ARGS, '--output', join(dir, 'output'), '--checkpoint-dir', join(dir, 'ckpt')];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    let pending = '';
    const reports: ProgressReport[] = [];
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const p = parseProgressLine(line);
        if (p === undefined || 'log' in p) continue;
        reports.push(p);
        if (killWhen?.(p) === true && child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, reports }));
  });
}

/** The saved weights' hash, the last step and the per-epoch numbers without timings. */
async function finalState(dir: string, r: RunOutcome): Promise<{ weights: string; lastStep: number | undefined; history: unknown[] }> {
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}; stderr:\n${r.stderr}`);
  const m = JSON.parse(await readFile(join(dir, 'output', 'metrics.json'), 'utf8')) as { history: { seconds: number; imagesPerSecond: number }[] };
  return {
    weights: createHash('sha256').update(await readFile(join(dir, 'output', 'model', 'weights.bin'))).digest('hex'),
    lastStep: r.reports.at(-1)?.step,
    history: m.history.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest),
  };
}

describe('dat train --unlabeled-data killed with SIGKILL and restarted (real processes)', () => {
  it('restores the teacher from the checkpoint instead of training it again, and ends bit-identical', { timeout: 180_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'dat-unlabeled-resume-'));
    try {
      const [straight, killed] = await Promise.all([
        runTrain(join(root, 'straight')),
        runTrain(join(root, 'killed'), (p) => p.phase === 'training' && p.step >= KILL_AT_STEP),
      ]);
      const want = await finalState(join(root, 'straight'), straight);
      assert.equal(want.lastStep, TOTAL_STEPS);
      assert.equal([...straight.stderr.matchAll(TRAINED)].length, 1, `the uninterrupted run trains one teacher; stderr:\n${straight.stderr}`);

      assert.equal(killed.signal, 'SIGKILL', `the run was killed (exit ${killed.code}); stderr:\n${killed.stderr}`);
      assert.equal([...killed.stderr.matchAll(TRAINED)].length, 1);
      const { complete } = await listCompleteCheckpoints(join(root, 'killed', 'ckpt'), 1);
      assert.ok(complete[0] !== undefined && complete[0].step >= 9, `newest complete checkpoint ${complete[0]?.step}`);
      const saved = await readTrainCheckpoint(complete[0]!, { rank: 0, worldSize: 1, log: silentLogger }, []);
      const teacher = saved.parts.get(TEACHER_PART);
      assert.equal(teacher?.tensors.get('pseudo-labels')?.length, 7488, 'the checkpoint holds the pool\'s labels');
      assert.ok((teacher?.tensors.get('weights')?.length ?? 0) > 0, 'and the teacher\'s weights');

      const resumed = await runTrain(join(root, 'killed'));
      assert.match(resumed.stderr, RESTORED);
      assert.equal([...resumed.stderr.matchAll(TRAINED)].length, 0, `the resumed run does not train the teacher again; stderr:\n${resumed.stderr}`);
      assert.match(resumed.stderr, new RegExp(`INFO Resumed from checkpoint step=${complete[0]!.step} `));
      assert.deepEqual(await finalState(join(root, 'killed'), resumed), want);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
