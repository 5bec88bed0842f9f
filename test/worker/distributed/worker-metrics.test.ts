/**
 * A real distributed worker (rank 0 of a ring of 1, through the CLI) trains K
 * steps; its /metrics endpoint must then show exactly K steps, K step
 * durations and K observations of each part of the step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { METRICS_PATH, PROGRESS_PATH, WORKER_ENV } from '../../../common/contract.js';
import { PROGRESS_LINGER_ENV } from '../../../worker/distributed/run-distributed-worker.js';
import { INSECURE_RING_ENV } from '../../../worker/security/ring-security.js';
import { METRIC_NAMES } from '../../../worker/telemetry/training-metrics.js';
import { STEP_PHASES } from '../../../worker/train/time-split.js';
import { entryCommand } from '../../support/paths.js';

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The value of one sample line (`name{labels} value`) in a Prometheus text exposition. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line !== undefined, `no sample ${name}${labels} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('a worker that trains K steps exposes exactly K step observations on /metrics', { timeout: 180_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-metrics-'));
  const ringPort = await freePort();
  // 192 examples / batch 32 = 6 steps per epoch, 2 epochs.
  const K = 12;
  const [cmd, ...prefix] = entryCommand('worker/main');
  const args = ['train', '--dataset', 'mnist', '--limit', '192', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1', '--backend', 'cpu', '--progress', 'none', '--epochs', '2', '--output', out];
  const child = spawn(cmd!, [...prefix, ...args], {
    env: {
      ...process.env,
      [WORKER_ENV.rank]: '0',
      [WORKER_ENV.worldSize]: '1',
      [WORKER_ENV.peers]: `127.0.0.1:${ringPort}`,
      [WORKER_ENV.ringBind]: '127.0.0.1',
      [WORKER_ENV.ringPort]: String(ringPort),
      [WORKER_ENV.metricsPort]: '0',
      [INSECURE_RING_ENV]: '1',
      // Rank 0 keeps serving until /progress has shown the final report: the test scrapes /metrics first.
      [PROGRESS_LINGER_ENV]: '120',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const seen = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stderr });
      const timer = setTimeout(() => reject(new Error(`no log line matching ${re}; last lines:\n${lines.slice(-15).join('\n')}`)), 150_000);
      const check = (l: string): void => {
        const m = l.match(re);
        if (m) {
          clearTimeout(timer);
          rl.off('line', check);
          resolve(m);
        }
      };
      rl.on('line', check);
      for (const l of lines) check(l);
    });
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  try {
    const port = Number((await seen(/Started telemetry server .*port=(\d+)/))[1]);
    await seen(/Finished training/);
    const text = await (await fetch(`http://127.0.0.1:${port}${METRICS_PATH}`)).text();

    assert.equal(sample(text, METRIC_NAMES.steps), K);
    assert.equal(sample(text, `${METRIC_NAMES.stepDuration}_count`), K, 'one step-duration observation per step');
    const stepSum = sample(text, `${METRIC_NAMES.stepDuration}_sum`);
    let partsSum = 0;
    for (const phase of STEP_PHASES) {
      assert.equal(sample(text, `${METRIC_NAMES.stepPhaseDuration}_count`, `{phase="${phase}"}`), K, `${phase} observations`);
      partsSum += sample(text, `${METRIC_NAMES.stepPhaseDuration}_sum`, `{phase="${phase}"}`);
    }
    // The parts lie within the step (which also gathers the batch and reports progress).
    assert.ok(partsSum > 0 && partsSum <= stepSum + 1e-9, `parts ${partsSum} s, steps ${stepSum} s`);
    // The collective: each step's reduction reports its codec time once per phase, and every all-reduce is timed.
    for (const op of ['encode', 'decode']) assert.equal(sample(text, `${METRIC_NAMES.codecDuration}_count`, `{op="${op}"}`), K, `codec ${op} observations`);
    assert.ok(sample(text, `${METRIC_NAMES.collectiveDuration}_count`, '{op="allreduce",outcome="ok"}') >= K, 'one all-reduce per step at least');

    const progress = (await (await fetch(`http://127.0.0.1:${port}${PROGRESS_PATH}`)).json()) as { phase: string; step: number };
    assert.deepEqual([progress.phase, progress.step], ['done', K]);
    assert.equal(await exited, 0, lines.slice(-15).join('\n'));
    const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { collective?: { allreduceCalls: number; encodeSecondsTotal: number } };
    assert.ok((written.collective?.allreduceCalls ?? 0) >= K, `metrics.json collective: ${JSON.stringify(written.collective)}`);
    assert.ok((written.collective?.encodeSecondsTotal ?? -1) >= 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(out, { recursive: true, force: true });
  }
});
