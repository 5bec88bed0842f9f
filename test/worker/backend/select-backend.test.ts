import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { AUTO_BACKEND_ORDER, NATIVE_BACKEND_PACKAGES, selectBackend } from '../../../worker/backend/select-backend.js';
import { WASM_TRAINING_KERNELS } from '../../../worker/backend/wasm/register-wasm-training-kernels.js';
import { ConfigError } from '../../../worker/util/errors.js';
import { createLogger, silentLogger } from '../../../worker/util/log.js';

const require = createRequire(import.meta.url);

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
});
