/**
 * scripts/images/stage-gpu-runtime.sh: usage errors, and, with the GPU binding
 * installed (scripts/test.sh installs it), the staged layout the GPU image
 * copies: the package, its binding, libtensorflow and every CUDA library
 * beside it, loadable from the staged tree alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUDA_REQUIRED_SONAMES } from '../../../worker/backend/gpu/cuda-diagnosis.js';
import { REPO_ROOT } from '../../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'images', 'stage-gpu-runtime.sh');
const PKG_DIR = join('node_modules', '@tensorflow', 'tfjs-node-gpu');
const gpuInstalled = existsSync(join(REPO_ROOT, PKG_DIR, 'deps', '.dat-operator-native-stamp'));

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'stage-gpu-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('stage-gpu-runtime.sh', () => {
  const usage = [
    { name: 'no DIR', args: [], want: /usage: scripts\/images\/stage-gpu-runtime\.sh/ },
    { name: 'an unknown option', args: ['--bogus', 'x'], want: /unknown option --bogus/ },
  ];
  for (const c of usage) {
    test(`${c.name} is a usage error (exit 2)`, () => {
      const r = spawnSync('bash', [SCRIPT, ...c.args], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, c.want);
    });
  }

  test('a DIR that is not empty is refused', () => {
    withTempDir((dir) => {
      writeFileSync(join(dir, 'x'), '');
      const r = spawnSync('bash', [SCRIPT, dir], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /is not empty/);
    });
  });

  const required = process.env.DAT_REQUIRE_GPU_BINDING === '1';
  test('stages the binding and the CUDA libraries in the documented layout', { skip: required || gpuInstalled ? false : 'the GPU binding is not installed' }, () => {
    withTempDir((dir) => {
      const out = join(dir, 'gpu-runtime');
      const r = spawnSync('bash', [SCRIPT, '--offline', out], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const pkg = join(out, PKG_DIR);
      for (const f of ['package.json', 'dist/index.js', 'lib/napi-v8/tfjs_binding.node', 'deps/.dat-operator-native-stamp', 'deps/lib/_pywrap_tensorflow_internal.so', 'deps/lib/libtensorflow_framework.so.2', 'deps/lib/libtfjs_pystub.so']) {
        assert.ok(existsSync(join(pkg, f)), `missing ${f}`);
      }
      for (const so of CUDA_REQUIRED_SONAMES) assert.ok(existsSync(join(pkg, 'deps', 'lib', so)), `missing ${so}`);
      assert.equal(existsSync(join(pkg, 'deps', 'include')), false, 'build headers are not needed at run time');
      assert.match(readFileSync(join(out, 'dat-gpu-runtime.txt'), 'utf8'), /variant=gpu .*-cuda-/);
      // The staged binding loads from the staged tree (RUNPATH $ORIGIN/../../deps/lib), not from node_modules.
      const load = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', join(pkg, 'lib', 'napi-v8', 'tfjs_binding.node')], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
      assert.equal(load.status, 0, load.stderr);
    });
  });
});
