/**
 * The images as a user runs them with Docker, before any cluster: the CPU
 * worker trains real MNIST to its final table in a container, stops promptly
 * on `docker stop` (it is PID 1 there; with a checkpoint directory, after
 * saving the current step), and the GPU worker on a host without a GPU fails
 * with its one clear line. Needs a Docker engine and the images of
 * scripts/images/build-images.sh (`npm test` builds them); without them the
 * tests fail and say which command provides them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { runCommand, type CommandResult } from '../e2e/support/command.js';
import { REPO_ROOT } from '../support/paths.js';

const APP_VERSION = /^appVersion:\s*"?([^"\s]+)"?/m.exec(readFileSync(join(REPO_ROOT, 'charts', 'dat-operator', 'Chart.yaml'), 'utf8'))?.[1] ?? '';
const IMAGES = {
  worker: `ghcr.io/dat-operator/worker:${APP_VERSION}`,
  workerGpu: `ghcr.io/dat-operator/worker:${APP_VERSION}-gpu`,
  operator: `ghcr.io/dat-operator/operator:${APP_VERSION}`,
} as const;
/** A short real run on MNIST digits (FGSM-RS at eps 0.1, the demo's setting). */
const TINY_RUN = ['--dataset', 'mnist', '--limit', '2000', '--test-size', '300', '--model', 'small-cnn', '--attack', 'fgsm-rs', '--eps', '0.1', '--batch-size', '64', '--eval-size', '300'];
/**
 * Enough training to show learning: 2 epochs on 4,000 digits (62 steps). One
 * epoch on 2,000 (15 steps) measured 20.7% clean, too early to tell.
 */
const LEARNING_RUN = [...TINY_RUN.map((a, i) => (TINY_RUN[i - 1] === '--limit' ? '4000' : a)), '--epochs', '2'];
/** Container names this file starts (removed before and after use). */
const CONTAINER = 'dat-image-test-stop';

function docker(args: readonly string[], timeoutMs = 180_000): Promise<CommandResult> {
  return runCommand('docker', args, { timeoutMs });
}

async function requireImage(image: string, build: string): Promise<void> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
  assert.equal(r.code, 0, `image ${image} is missing: build it with \`bash scripts/images/build-images.sh ${build}\``);
}

describe('container images', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    const info = await docker(['info', '--format', '{{.ServerVersion}}'], 30_000).catch(() => undefined);
    assert.ok(info !== undefined && info.code === 0, 'no Docker engine answers: start one with `bash scripts/docker/start-dockerd.sh` (as root)');
  });

  test('the CPU worker image trains 2 ranks on real MNIST to the final table, on the native backend', async (t) => {
    await requireImage(IMAGES.worker, 'worker');
    const started = Date.now();
    const r = await docker(['run', '--rm', '--tmpfs', '/tmp', IMAGES.worker, 'train', '--workers', '2', '--output', '/tmp/run', ...LEARNING_RUN], 300_000);
    t.diagnostic(`docker run took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-2000)}`);
    const table = r.stdout + r.stderr;
    for (const row of [/clean accuracy\s+\d+\.\d+%/, /robust accuracy\s+\d+\.\d+%/, /backend\s+tensorflow\b/, /workers\s+2\b/]) assert.match(table, row);
    const clean = Number(/clean accuracy\s+(\d+\.\d+)%/.exec(table)?.[1]);
    t.diagnostic(`clean accuracy ${clean}%`);
    assert.ok(clean > 50, `the model learned (clean accuracy ${clean}%)`);
  });

  // Without a checkpoint directory the worker exits at once; with one it first saves a checkpoint at
  // the next step boundary. Both must end well inside the grace period, with 128 + SIGTERM.
  const STOP_CASES = [
    { what: 'ends a training worker at once', args: [] as string[], log: /received SIGTERM: stopping \(exit 143\)/ },
    { what: 'ends a worker with a checkpoint directory after saving the current step', args: ['--checkpoint-dir', '/tmp/ck', '--checkpoint-every', '100000'], log: /received SIGTERM: saved the checkpoint at step \d+ in \/tmp\/ck and stopped/ },
  ];
  for (const c of STOP_CASES) {
    test(`docker stop ${c.what} (PID 1 honours SIGTERM) with exit 143`, async (t) => {
      await requireImage(IMAGES.worker, 'worker');
      await docker(['rm', '-f', CONTAINER]);
      try {
        // One rank, no launcher: the container's PID 1 is the worker itself, as in a pod.
        const env = ['-e', 'DAT_RANK=0', '-e', 'DAT_WORLD_SIZE=1', '-e', 'DAT_PEERS=127.0.0.1:29500', '-e', 'DAT_INSECURE_RING=1'];
        const run = await docker(['run', '-d', '--name', CONTAINER, '--tmpfs', '/tmp', ...env, IMAGES.worker, 'train', '--epochs', '50', '--output', '/tmp/run', ...c.args, ...TINY_RUN]);
        assert.equal(run.code, 0, run.stderr);
        const deadline = Date.now() + 120_000;
        while (!/epoch|step/i.test((await docker(['logs', CONTAINER])).stderr + (await docker(['logs', CONTAINER])).stdout)) {
          assert.ok(Date.now() < deadline, `the worker did not start training: ${(await docker(['logs', CONTAINER])).stderr.slice(-1500)}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
        const stopAt = Date.now();
        const stop = await docker(['stop', '--time', '30', CONTAINER], 60_000);
        const stopS = (Date.now() - stopAt) / 1000;
        t.diagnostic(`docker stop took ${stopS.toFixed(1)} s`);
        assert.equal(stop.code, 0, stop.stderr);
        assert.ok(stopS < 10, `stopped in ${stopS} s, not after the 30 s grace period (SIGTERM was ignored)`);
        const code = (await docker(['inspect', '--format', '{{.State.ExitCode}}', CONTAINER])).stdout.trim();
        assert.equal(code, '143', 'exit status 128 + SIGTERM');
        assert.match((await docker(['logs', CONTAINER])).stderr, c.log);
      } finally {
        await docker(['rm', '-f', CONTAINER]);
      }
    });
  }

  test('the GPU worker image on a host without a GPU: --backend tensorflow-gpu exits 2 with one clear line', async (t) => {
    await requireImage(IMAGES.workerGpu, 'worker-gpu');
    const r = await docker(['run', '--rm', '--tmpfs', '/tmp', IMAGES.workerGpu, 'train', '--backend', 'tensorflow-gpu', '--epochs', '1', '--output', '/tmp/run', ...TINY_RUN], 300_000);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    t.diagnostic(`exit ${r.code}: ${lines.join(' | ').slice(0, 600)}`);
    assert.equal(r.code, 2, 'a permanent error: the pod must not be restarted');
    const reason = lines.filter((l) => /no CUDA device/.test(l));
    assert.equal(reason.length, 1, `exactly one line names the missing CUDA device:\n${r.stderr.slice(-1500)}`);
    assert.match(reason[0] ?? '', /libcuda\.so\.1/, 'and says what was looked for');
  });

  for (const [flavour, image] of [['worker', IMAGES.worker], ['worker-gpu', IMAGES.workerGpu]] as const) {
    test(`the ${flavour} image loads the native codec kernels`, async () => {
      await requireImage(image, flavour);
      const probe = "const m = await import('/app/dist/worker/comm/native-kernels.js'); console.log(m.nativeKernelsStatus.reason)";
      const r = await docker(['run', '--rm', '--entrypoint', 'node', image, '--input-type=module', '-e', probe], 60_000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'native', 'without them compression runs in TypeScript, 2-3x slower');
    });
  }

  test('the operator image starts its command and prints its usage', async () => {
    await requireImage(IMAGES.operator, 'operator');
    const r = await docker(['run', '--rm', IMAGES.operator, '--help'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /--leader-elect/);
  });
});
