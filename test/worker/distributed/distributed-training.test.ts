/**
 * Multi-process DAT on one machine through the real CLI (`dat train
 * --workers N`): ranks hold bit-identical weights after every step, and a
 * worker that dies takes the run down naming it, leaving no orphans.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, startDatTrain, TINY_TRAIN_ARGS } from '../../support/dat-train-process.js';
import { REQUIRE_NATIVE_ENV } from '../backend/_compare.js';
import { runEntry } from '../../support/run-entry.js';
import type { RunMetrics } from '../../../worker/train/metrics.js';
import type { EvalReport } from '../../../worker/eval/eval-report.js';

const TINY = TINY_TRAIN_ARGS;

const startDat = startDatTrain;

const alive = isAlive;

test('3 workers with sign-ef hold bit-identical weights after every step', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-dist-'));
  try {
    const run = startDat([...TINY, '--workers', '3', '--epochs', '2', '--compression', 'sign-ef', '--compression-warmup-steps', '1', '--output', out], { DAT_DEBUG_WEIGHT_DIGEST: '1' });
    const { code } = await run.exited;
    assert.equal(code, 0, run.lines.slice(-20).join('\n'));
    // step -> rank -> digest
    const digests = new Map<string, Map<number, string>>();
    for (const l of run.lines) {
      const m = l.match(/^\[rank (\d)\] .*Digested weights .*step=(\w+) digest=(\S+)/);
      if (!m) continue;
      if (!digests.has(m[2]!)) digests.set(m[2]!, new Map());
      digests.get(m[2]!)!.set(Number(m[1]), m[3]!);
    }
    // 192 examples / (3 x 32) = 2 steps per epoch, 2 epochs: steps 0..3 plus the final weights.
    assert.deepEqual([...digests.keys()].sort(), ['0', '1', '2', '3', 'final']);
    for (const [step, byRank] of digests) {
      assert.equal(byRank.size, 3, `step ${step}: ${JSON.stringify([...byRank])}`);
      assert.equal(new Set(byRank.values()).size, 1, `ranks differ at step ${step}: ${JSON.stringify([...byRank])}`);
    }
    assert.notEqual(digests.get('0')!.get(0), digests.get('final')!.get(0), 'the weights changed');
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(metrics.workers, 3);
    assert.equal(metrics.compression, 'sign-ef');
    assert.equal(typeof metrics.bytesSentPerStepPerRank, 'number');
    assert.equal((metrics.config as Record<string, unknown>).optimizer, 'lamb', 'LAMB is the default for N > 1');
    const ringStarts = run.lines.filter((l) => /^\[rank \d\] .*Started ring server/.test(l));
    assert.equal(ringStarts.length, 3, run.lines.slice(-20).join('\n'));
    for (const l of ringStarts) assert.match(l, /incrementalMarking=false/, 'the launcher starts workers with WORKER_NODE_FLAGS');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('2 workers share the final evaluation; the merged result is what dat eval finds on the saved model', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-dist-final-eval-'));
  try {
    // 64 held-out digits on 2 ranks: one batch of 32 each (batch b on rank b mod 2).
    const run = startDat([...TINY, '--workers', '2', '--epochs', '2', '--final-eval', 'pgd,apgd-ce', '--final-eval-examples', '64', '--output', out]);
    const { code } = await run.exited;
    assert.equal(code, 0, run.lines.slice(-20).join('\n'));
    const fe = (JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as RunMetrics).finalEvaluation;
    assert.ok(fe !== undefined, 'metrics.json has finalEvaluation');
    assert.equal(fe.examples, 64);
    assert.ok(run.lines.some((l) => /^\[rank 1\] .*Started final evaluation .*ranks=2/.test(l)), 'rank 1 attacks its share');
    // The same examples (the held-out split is a fixed permutation's prefix), batches, seeds and backend through dat eval.
    const ev = await runEntry('worker/main', [
      'eval', '--model', join(out, 'model'), '--dataset', 'mnist', '--eps', '0.3', '--attacks', 'pgd,apgd-ce', '--n-examples', '64', '--batch-size', '32', '--seed', '1',
      '--backend', 'cpu', '--progress', 'none', '--out', join(out, 'eval'),
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    const report = JSON.parse(await readFile(join(out, 'eval', 'eval.json'), 'utf8')) as EvalReport;
    assert.deepEqual(
      { clean: fe.cleanAccuracy, perAttack: fe.perAttack.map((p) => [p.attack, p.robustAccuracy]), robust: fe.robustAccuracy },
      { clean: report.cleanAccuracy, perAttack: report.perAttack.map((p) => [p.attack, p.robustAccuracy]), robust: report.robustAccuracy },
    );
    assert.ok(fe.cleanAccuracy > fe.robustAccuracy, `the attacks break some digits: ${JSON.stringify(fe)}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

/** Whether tfjs-node loads here (the suite requires it when REQUIRE_NATIVE_ENV is set). */
async function nativeBackendLoads(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

test('2 native workers run PGD through the compiled graphs and hold bit-identical weights', { timeout: 180_000 }, async (t) => {
  if (!(await nativeBackendLoads())) {
    if (process.env[REQUIRE_NATIVE_ENV] === '1') assert.fail(`${REQUIRE_NATIVE_ENV}=1 but @tensorflow/tfjs-node does not load`);
    t.skip('@tensorflow/tfjs-node is not installed');
    return;
  }
  const out = await mkdtemp(join(tmpdir(), 'dat-dist-'));
  try {
    // The adv + clean loss pinned (the PGD default before MNIST's became the adversarial loss alone): with the
    // clean term, 16 steps lift clean accuracy well above chance, which is what shows the graphs' gradients are right.
    const args = ['--dataset', 'mnist', '--limit', '256', '--test-size', '64', '--model', 'small-cnn', '--attack', 'pgd', '--loss', 'adv-clean', '--attack-steps', '3', '--batch-size', '32'];
    const run = startDat([...args, '--eval-size', '64', '--eval-attack-steps', '2', '--backend', 'tensorflow', '--progress', 'plain', '--workers', '2', '--epochs', '2', '--output', out], {
      DAT_DEBUG_WEIGHT_DIGEST: '1',
    });
    const { code } = await run.exited;
    assert.equal(code, 0, run.lines.slice(-20).join('\n'));
    for (const rank of [0, 1]) {
      assert.ok(
        run.lines.some((l) => l.startsWith(`[rank ${rank}]`) && l.includes('Compiled the attack, the loss gradient and the optimizer update into TensorFlow graphs')),
        `rank ${rank} did not use the compiled step:\n${run.lines.filter((l) => /eagerly|graphs/.test(l)).join('\n')}`,
      );
    }
    const finals = run.lines.map((l) => l.match(/^\[rank (\d)\] .*Digested weights .*step=final digest=(\S+)/)).filter((m) => m !== null);
    assert.equal(finals.length, 2, run.lines.slice(-20).join('\n'));
    assert.equal(finals[0]![2], finals[1]![2], 'ranks hold different final weights');
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { backend: string; cleanAccuracy: number; robustAccuracy: number };
    assert.equal(metrics.backend, 'tensorflow');
    // 16 steps of training on 256 digits: far from converged, but clearly above chance (10%) if the graphs' gradients are right.
    assert.ok(metrics.cleanAccuracy > 0.3, `clean accuracy ${metrics.cleanAccuracy}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('a worker that dies takes the run down naming it, and no worker outlives the run', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-dist-'));
  try {
    const run = startDat([...TINY, '--workers', '3', '--epochs', '200', '--collective-timeout-ms', '5000', '--output', out]);
    const pids = await Promise.all([0, 1, 2].map(async (r) => Number((await run.waitForLine(new RegExp(`started worker rank ${r} pid (\\d+)`), 30_000))[1])));
    await run.waitForLine(/epoch 1\/200 {2}step \d+/, 60_000);
    process.kill(pids[1]!, 'SIGKILL');
    const { code } = await run.exited;
    assert.equal(code, 3, 'a peer failure is retryable (exit 3)');
    assert.ok(run.lines.some((l) => /worker rank 1 was killed by SIGKILL/.test(l)), run.lines.slice(-10).join('\n'));
    for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} is still running`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
