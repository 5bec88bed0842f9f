/**
 * tfjs-node-gpu on a node without a CUDA device (CI, this machine): the
 * binding loads, `dat train --backend tensorflow-gpu` fails with one line
 * that says what was missing, and `--backend auto` logs that reason and
 * trains on tfjs-node. scripts/test.sh installs the GPU binding first and sets
 * DAT_REQUIRE_GPU_BINDING=1, so these tests fail rather than skip when it is
 * missing. On a node that has a GPU they do not apply and skip.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EXIT_CODES } from '../../../../common/contract.js';
import { NATIVE_BACKEND_PACKAGES, NO_GPU_DEVICE_REASON } from '../../../../worker/backend/select-backend.js';
import { runEntry } from '../../../support/run-entry.js';

const require = createRequire(import.meta.url);
const GPU_PKG = NATIVE_BACKEND_PACKAGES['tensorflow-gpu'];
const STAMP = '.dat-operator-native-stamp';

function gpuBindingInstalled(): boolean {
  try {
    return existsSync(join(dirname(require.resolve(`${GPU_PKG}/package.json`)), 'deps', STAMP));
  } catch {
    return false;
  }
}

const hasGpu = readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));
const required = process.env.DAT_REQUIRE_GPU_BINDING === '1';
const skip = hasGpu ? 'this node has a GPU device' : !required && !gpuBindingInstalled() ? 'the GPU binding is not installed (scripts/install-tfjs-node.sh --gpu)' : false;
/** A short run: the backend is chosen before any data is read, and auto's fallback must still train. */
const TRAIN_ARGS = ['train', '--epochs', '1', '--limit', '256', '--test-size', '128', '--progress', 'none'];

describe('tfjs-node-gpu without a CUDA device', { skip }, () => {
  test('the GPU binding is installed (scripts/test.sh installs it)', () => {
    assert.ok(gpuBindingInstalled(), `${GPU_PKG} has no installed binding: scripts/install-tfjs-node.sh --gpu failed or did not run`);
  });

  test('dat train --backend tensorflow-gpu exits 2 with one line naming what is missing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'no-gpu-'));
    try {
      const r = await runEntry('worker/main', [...TRAIN_ARGS, '--backend', 'tensorflow-gpu', '--output', out]);
      assert.equal(r.code, EXIT_CODES.badConfig, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `want one line on stderr, got:\n${r.stderr}`);
      assert.match(lines[0]!, new RegExp(`^dat: error: TensorFlow\\.js backend tensorflow-gpu is unavailable: .*${NO_GPU_DEVICE_REASON}: `));
      // What was found: the driver library and device nodes are absent, the CUDA runtime is in place.
      assert.match(lines[0]!, /libcuda\.so\.1 not found/);
      assert.match(lines[0]!, /no \/dev\/nvidiaN device nodes/);
      assert.match(lines[0]!, /CUDA 11 and cuDNN 8 runtime libraries present in .*tfjs-node-gpu\/deps\/lib/);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('dat train --backend auto logs the reason and trains on tfjs-node', async () => {
    const out = mkdtempSync(join(tmpdir(), 'no-gpu-auto-'));
    try {
      const r = await runEntry('worker/main', [...TRAIN_ARGS, '--backend', 'auto', '--output', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`Skipped unavailable TensorFlow\\.js backend backend=tensorflow-gpu reason="${NO_GPU_DEVICE_REASON}: .*libcuda\\.so\\.1 not found`));
      assert.match(r.stderr, /Selected TensorFlow\.js backend backend=tensorflow requested=auto/);
      // tfjs-node registers its kernels after the rejected GPU package's were removed: no duplicate warnings.
      assert.doesNotMatch(r.stderr, /is already registered/);
      assert.ok(existsSync(join(out, 'metrics.json')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
