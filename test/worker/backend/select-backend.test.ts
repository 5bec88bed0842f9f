import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  AUTO_BACKEND_ORDER,
  DEFAULT_TF_LOG_LEVEL,
  gpuDeviceMissingReason,
  NATIVE_BACKEND_PACKAGES,
  NO_GPU_DEVICE_REASON,
  selectBackend,
  TF_LOG_LEVEL_ENV,
} from '../../../worker/backend/select-backend.js';
import { WASM_TRAINING_KERNELS } from '../../../worker/backend/wasm/register-wasm-training-kernels.js';
import { ConfigError } from '../../../common/errors.js';
import { createLogger, silentLogger } from '../../../common/log.js';
import { entryCommand } from '../../support/paths.js';
import { initBackends, skipIfUnavailable } from './_compare.js';

const require = createRequire(import.meta.url);
const execFileAsync = promisify(execFile);

/** What libtensorflow prints at INFO level while loading (oneDNN and CPU-feature notices). */
const TF_INFO_LINE = /\] oneDNN custom operations|cpu_feature_guard/;

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

function capturingLogger(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({}, (l) => lines.push(l)) };
}

describe('selectBackend', () => {
  // Learns whether tfjs-node actually works here (installed with its binding), for the tests that need it.
  before(initBackends);

  const named = [
    { requested: 'wasm', want: 'wasm' },
    { requested: 'cpu', want: 'cpu' },
  ] as const;
  for (const c of named) {
    test(`named ${c.requested} is selected and active`, async () => {
      const { lines, log } = capturingLogger();
      const info = await selectBackend(c.requested, log);
      assert.equal(info.name, c.want);
      assert.equal(info.tf.getBackend(), c.want);
      assert.equal(info.tf, tf, 'must be the @tensorflow/tfjs namespace the project imports');
      assert.deepEqual(info.unavailable, []);
      assert.ok(lines.some((l) => l.includes(`Selected TensorFlow.js backend backend=${c.want}`)), lines.join('\n'));
    });
  }

  test('auto picks the first usable backend and records why each better one was skipped', async () => {
    const { lines, log } = capturingLogger();
    const info = await selectBackend('auto', log);
    const rank = AUTO_BACKEND_ORDER.indexOf(info.name);
    assert.ok(rank >= 0);
    assert.deepEqual(
      info.unavailable.map((u) => u.name),
      AUTO_BACKEND_ORDER.slice(0, rank),
    );
    for (const u of info.unavailable) {
      assert.ok(u.reason.length > 0, `empty reason for ${u.name}`);
      assert.ok(lines.some((l) => l.includes(`backend=${u.name}`) && l.includes('reason=')), `no log line for ${u.name}`);
    }
    // On a machine without the native packages, auto must land on wasm.
    if (!isInstalled(NATIVE_BACKEND_PACKAGES['tensorflow-gpu']) && !isInstalled(NATIVE_BACKEND_PACKAGES.tensorflow)) {
      assert.equal(info.name, 'wasm');
      assert.match(info.unavailable[0]?.reason ?? '', /not installed/);
    }
  });

  for (const id of ['tensorflow', 'tensorflow-gpu'] as const) {
    test(`named ${id} that is not installed is a ConfigError with the reason`, async (t) => {
      if (isInstalled(NATIVE_BACKEND_PACKAGES[id])) {
        t.skip(`${NATIVE_BACKEND_PACKAGES[id]} is installed here`);
        return;
      }
      const before = tf.getBackend();
      await assert.rejects(selectBackend(id, silentLogger), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.retryable, false);
        assert.match(err.message, new RegExp(`${id} is unavailable: .*${NATIVE_BACKEND_PACKAGES[id]} is not installed`));
        return true;
      });
      assert.equal(tf.getBackend(), before, 'a failed selection must leave the active backend alone');
    });
  }

  test('selecting repeatedly is harmless and keeps the training kernels registered once', async () => {
    for (const id of ['wasm', 'cpu', 'wasm', 'auto', 'wasm'] as const) await selectBackend(id, silentLogger);
    assert.equal(tf.getBackend(), 'wasm');
    for (const name of Object.values(WASM_TRAINING_KERNELS)) assert.ok(tf.getKernel(name, 'wasm'), `${name} not registered`);
    // A gradient that needs Conv2DBackpropFilter (absent from stock wasm) still runs.
    const g = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid').sum())(tf.ones([2, 2, 1, 1])));
    assert.deepEqual(Array.from(g.dataSync()), [9, 9, 9, 9]);
    g.dispose();
  });

  test('a native package that is installed can be selected by name (tfjs-node here)', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    const info = await selectBackend('tensorflow', silentLogger);
    assert.equal(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.deepEqual(info.unavailable, []);
    const auto = await selectBackend('auto', silentLogger);
    if (!isInstalled(NATIVE_BACKEND_PACKAGES['tensorflow-gpu'])) {
      assert.equal(auto.name, 'tensorflow', 'auto must prefer tfjs-node over wasm');
      assert.match(auto.unavailable[0]?.reason ?? '', /tfjs-node-gpu is not installed/);
    }
    await selectBackend('wasm', silentLogger);
  });

  test('tensorflow-gpu counts only when its binding uses a GPU device', () => {
    const cases = [
      { name: 'GPU in use', backend: { isUsingGpuDevice: true }, want: undefined },
      { name: 'CPU-only session', backend: { isUsingGpuDevice: false }, want: NO_GPU_DEVICE_REASON },
      { name: 'no such property (another backend)', backend: {}, want: NO_GPU_DEVICE_REASON },
      { name: 'truthy non-boolean', backend: { isUsingGpuDevice: 1 }, want: NO_GPU_DEVICE_REASON },
      { name: 'no backend', backend: null, want: NO_GPU_DEVICE_REASON },
    ];
    for (const c of cases) assert.equal(gpuDeviceMissingReason(c.backend), c.want, c.name);
  });

  test('the real native backend reports its GPU use, and a CPU-only session is rejected as tensorflow-gpu', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    // tfjs-node-gpu runs the same binding code: on a node without CUDA it looks exactly like this backend.
    await selectBackend('tensorflow', silentLogger);
    const usesGpu = (tf.backend() as { isUsingGpuDevice?: unknown }).isUsingGpuDevice;
    assert.equal(typeof usesGpu, 'boolean', 'the binding must expose isUsingGpuDevice');
    assert.equal(gpuDeviceMissingReason(tf.backend()), usesGpu === true ? undefined : NO_GPU_DEVICE_REASON);
    await selectBackend('wasm', silentLogger);
  });

  const logCases = [
    { name: 'quiet by default', env: undefined, wantLevel: DEFAULT_TF_LOG_LEVEL, wantInfo: false },
    { name: 'a level the user set is kept', env: '0', wantLevel: '0', wantInfo: true },
  ] as const;
  for (const c of logCases) {
    test(`libtensorflow's import-time info lines: ${c.name}`, async (t) => {
      if (skipIfUnavailable(t, 'tensorflow')) return;
      const [cmd, ...pre] = entryCommand('test/worker/backend/_select-native-child');
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env[TF_LOG_LEVEL_ENV];
      if (c.env !== undefined) env[TF_LOG_LEVEL_ENV] = c.env;
      const { stdout, stderr } = await execFileAsync(cmd!, [...pre, 'tensorflow'], { env, timeout: 60_000 });
      assert.deepEqual(JSON.parse(stdout), { backend: 'tensorflow', logLevel: c.wantLevel });
      assert.equal(TF_INFO_LINE.test(stderr), c.wantInfo, `stderr:\n${stderr}`);
    });
  }
});
