/**
 * scripts/install-tfjs-node.sh: its failure contract (CPU: exit 0 with a reason, so CI
 * continues on wasm; GPU: exit 1, so an image built for GPUs never holds less), and,
 * when the native backends are installed in this checkout, the fast idempotent rerun
 * and the native smoke test (conv2d gradients equal to the cpu backend's, loss drops
 * while training).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install-tfjs-node.sh');
const SMOKE = join(REPO_ROOT, 'scripts', 'tfjs-node', 'smoke.mjs');
const UNAVAILABLE = 'native backend unavailable: ';
const GPU_FAILED = 'GPU backend build failed: ';
const GPU_WHEEL = 'tensorflow_gpu-2.9.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl';
/** The default cache, where scripts/test.sh's install left the wheels. */
const DEFAULT_CACHE = process.env.DAT_TFJS_NODE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dat-operator', 'tfjs-node');
/** An installed backend is only checked on rerun: loading the binding, not rebuilding. */
const FAST_RERUN_MS = 15_000;

function runScript(args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

/** A project without tfjs-node and an empty cache, so nothing is found and nothing is installed. */
function withEmptyProject(fn: (project: string, cache: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'install-tfjs-node-'));
  try {
    const project = join(dir, 'project');
    const cache = join(dir, 'cache');
    mkdirSync(project);
    mkdirSync(cache);
    writeFileSync(join(project, 'package.json'), '{"name":"empty","version":"0.0.0","private":true}\n');
    fn(project, cache);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function nativeInstalled(pkgName = 'tfjs-node'): boolean {
  const pkg = join(REPO_ROOT, 'node_modules', '@tensorflow', pkgName);
  return existsSync(join(pkg, 'deps', '.dat-operator-native-stamp'));
}

describe('install-tfjs-node.sh failure contract', () => {
  test('an unknown option is a usage error (exit 2)', () => {
    const r = runScript(['--bogus']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /unknown option --bogus/);
  });

  const cases = [
    {
      name: 'offline with an empty cache reports the missing wheel',
      args: (_dir: string): string[] => ['--offline'],
      reason: /is not cached in .* --offline forbids downloading it/,
    },
    {
      name: 'a wheel with the wrong checksum is rejected',
      args: (dir: string): string[] => {
        const fake = join(dir, 'tensorflow_cpu-2.9.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
        writeFileSync(fake, 'not a wheel');
        return ['--wheel', fake];
      },
      reason: /checksum mismatch for .*: sha256 [0-9a-f]{64}, expected 6666ddea/,
    },
    {
      name: 'a missing --wheel file is reported',
      args: (dir: string): string[] => ['--wheel', join(dir, 'absent.whl')],
      reason: /--wheel .*absent\.whl does not exist/,
    },
  ];
  for (const c of cases) {
    test(`${c.name}, exit 0`, () => {
      withEmptyProject((project, cache) => {
        const r = runScript(['--project', project, ...c.args(cache)], { DAT_TFJS_NODE_CACHE: cache });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(r.stdout.startsWith(UNAVAILABLE), r.stdout);
        assert.match(r.stdout, c.reason);
        assert.equal(existsSync(join(project, 'node_modules')), false, 'must not install anything');
      });
    });
  }
});

describe('install-tfjs-node.sh --gpu failure contract', () => {
  test('an unknown TFJS_NODE_FLAVOR is a usage error (exit 2)', () => {
    const r = runScript([], { TFJS_NODE_FLAVOR: 'cuda' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /TFJS_NODE_FLAVOR=cuda is not cpu or gpu/);
  });

  const cases = [
    { name: '--gpu', args: ['--gpu'], env: {} },
    { name: 'TFJS_NODE_FLAVOR=gpu (the worker image sets it)', args: [], env: { TFJS_NODE_FLAVOR: 'gpu' } },
  ];
  for (const c of cases) {
    test(`${c.name} that cannot build exits 1 with the reason`, () => {
      withEmptyProject((project, cache) => {
        const r = runScript(['--project', project, '--offline', ...c.args], { DAT_TFJS_NODE_CACHE: cache, ...c.env });
        assert.equal(r.status, 1, r.stderr);
        assert.ok(r.stdout.startsWith(GPU_FAILED), r.stdout);
        assert.match(r.stdout, new RegExp(`${GPU_WHEEL.replaceAll('.', '\\.')} is not cached`));
        assert.equal(existsSync(join(project, 'node_modules')), false, 'must not install anything');
      });
    });
  }

  const cachedGpuWheel = join(DEFAULT_CACHE, 'wheels', GPU_WHEEL);
  test('missing CUDA wheels fail the GPU build (offline, libtensorflow wheel present)', { skip: existsSync(cachedGpuWheel) ? false : 'the tensorflow-gpu wheel is not cached' }, () => {
    withEmptyProject((project, cache) => {
      mkdirSync(join(cache, 'wheels'));
      // A hard link: the same 512 MB wheel, no copy.
      linkSync(cachedGpuWheel, join(cache, 'wheels', GPU_WHEEL));
      const r = runScript(['--project', project, '--offline', '--gpu'], { DAT_TFJS_NODE_CACHE: cache });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /^GPU backend build failed: CUDA wheels not cached .* --offline forbids downloading them: nvidia-cuda-runtime-cu11==11\.8\.89 /);
    });
  });
});

describe('install-tfjs-node.sh on this checkout', () => {
  const skip = nativeInstalled() ? false : 'the native backend is not installed (run scripts/install-tfjs-node.sh)';

  test('a rerun finds the installed backend quickly', { skip }, () => {
    const t0 = Date.now();
    const r = runScript([]);
    const ms = Date.now() - t0;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^native backend already installed: @tensorflow\/tfjs-node@4\.22\.0 on libtensorflow 2\.9\.1/);
    assert.ok(ms < FAST_RERUN_MS, `rerun took ${ms} ms`);
  });

  test('the native backend trains and matches the cpu backend', { skip }, () => {
    const r = spawnSync(process.execPath, [SMOKE], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { backend: string; maxRelDiffVsCpu: number; trainLoss: [number, number] };
    assert.equal(result.backend, 'tensorflow');
    assert.ok(result.maxRelDiffVsCpu <= 1e-3, String(result.maxRelDiffVsCpu));
    assert.ok(result.trainLoss[1] < result.trainLoss[0], JSON.stringify(result.trainLoss));
  });
});

describe('install-tfjs-node.sh --gpu on this checkout', () => {
  // scripts/test.sh installs the GPU binding and sets this: then the checks must run, not skip.
  const required = process.env.DAT_REQUIRE_GPU_BINDING === '1';
  const skip = required || nativeInstalled('tfjs-node-gpu') ? false : 'the GPU binding is not installed (run scripts/install-tfjs-node.sh --gpu)';

  test('a rerun finds the installed GPU binding quickly (idempotent)', { skip }, () => {
    const t0 = Date.now();
    const r = runScript(['--gpu']);
    const ms = Date.now() - t0;
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^native backend already installed: @tensorflow\/tfjs-node-gpu@4\.22\.0 on libtensorflow 2\.9\.1 with CUDA runtime 11\.8\.89 and cuDNN 8\.9\.6\.50 from PyPI/);
    assert.ok(ms < FAST_RERUN_MS, `rerun took ${ms} ms`);
  });

  test('the GPU binding trains and matches the cpu backend (on the CPU without a GPU)', { skip }, () => {
    const r = spawnSync(process.execPath, [SMOKE, '@tensorflow/tfjs-node-gpu'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { backend: string; isUsingGpuDevice: boolean; maxRelDiffVsCpu: number };
    assert.equal(result.backend, 'tensorflow');
    assert.equal(typeof result.isUsingGpuDevice, 'boolean');
    assert.ok(result.maxRelDiffVsCpu <= 1e-3, String(result.maxRelDiffVsCpu));
  });
});
