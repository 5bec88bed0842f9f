/**
 * scripts/gpu-check.sh: what can run without a GPU. On a host with no GPU it
 * stops at once with a FAIL verdict naming what is missing (before installing
 * anything), and its report step (scripts/tfjs-node/gpu-check-report.mjs)
 * turns bench and training results into gpu.json and the verdict.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'gpu-check.sh');
const REPORT = join(REPO_ROOT, 'scripts', 'tfjs-node', 'gpu-check-report.mjs');
const hasGpu = readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));

describe('gpu-check.sh', () => {
  test('on a host without a GPU it stops at once with a FAIL verdict', { skip: hasGpu ? 'this host has a GPU' : false }, () => {
    const t0 = Date.now();
    const r = spawnSync('bash', [SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^gpu-check: VERDICT: FAIL: no GPU on this host: no \/dev\/nvidiaN device nodes; NVIDIA driver library libcuda\.so\.1 not found \(after \d+ s\)\n$/);
    assert.ok(Date.now() - t0 < 5_000, 'must not install or build anything first');
  });

  test('an unknown option is a usage error (exit 2)', () => {
    const r = spawnSync('bash', [SCRIPT, '--bogus'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option --bogus/);
  });
});

/** One bench:step row (the fields the report reads). */
function row(backend: string, model: string, kind: string, medianMs: number, execution = 'graph'): Record<string, unknown> {
  return { backend, execution, model, kind, batch: 128, medianMs, imagesPerSecond: (128 * 1000) / medianMs };
}

const MODELS = ['small-cnn', 'madry-cnn', 'preact-resnet-18'];
const KINDS = ['plain', 'FGSM-RS', 'PGD-10'];

function benchResult(backend: string, ms: (model: string, kind: string) => number, execution = 'graph'): Record<string, unknown> {
  return { rows: MODELS.flatMap((m) => KINDS.map((k) => row(backend, m, k, ms(m, k), execution))), unavailable: [], matmul: { [backend]: { bestGflops: 1000 } } };
}

describe('gpu-check-report.mjs', () => {
  const goodMetrics = { backend: 'tensorflow-gpu', workers: 2, epochsCompleted: 2, cleanAccuracy: 0.95, robustAccuracy: 0.7, imagesPerSecond: 9000, wallSeconds: 20 };
  const cases = [
    { name: 'a fast GPU passes', gpuMs: 50, gpuExec: 'graph', metrics: goodMetrics, total: 300, want: 'PASS', why: /preact-resnet-18 PGD-10 40\.0x the 2-core CPU step \(target 20x\)$/ },
    { name: 'a GPU step under 20x fails', gpuMs: 200, gpuExec: 'graph', metrics: goodMetrics, total: 300, want: 'FAIL', why: /GPU step 10\.0x the 2-core CPU step, below 20x/ },
    { name: 'an eager GPU step fails', gpuMs: 50, gpuExec: 'eager', metrics: goodMetrics, total: 300, want: 'FAIL', why: /ran eagerly, not as compiled graphs, for small-cnn plain/ },
    { name: 'training on the CPU fails', gpuMs: 50, gpuExec: 'graph', metrics: { ...goodMetrics, backend: 'tensorflow' }, total: 300, want: 'FAIL', why: /training ran on tensorflow, not tensorflow-gpu/ },
    { name: 'over the time budget fails', gpuMs: 50, gpuExec: 'graph', metrics: goodMetrics, total: 500, want: 'FAIL', why: /took 500 s, over the 480 s budget/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gpu-report-'));
      try {
        const files = { gpu: join(dir, 'g.json'), cpu: join(dir, 'c.json'), metrics: join(dir, 'm.json'), out: join(dir, 'gpu.json') };
        writeFileSync(files.gpu, JSON.stringify(benchResult('tensorflow-gpu', () => c.gpuMs, c.gpuExec)));
        writeFileSync(files.cpu, JSON.stringify(benchResult('tensorflow', () => 2000)));
        writeFileSync(files.metrics, JSON.stringify(c.metrics));
        const args = ['--gpu', files.gpu, '--cpu', files.cpu, '--metrics', files.metrics, '--out', files.out, '--probe', '{"ok":true,"isUsingGpuDevice":true}', '--seconds', `install=100,total=${c.total}`];
        const r = spawnSync(process.execPath, [REPORT, ...args], { encoding: 'utf8' });
        assert.equal(r.status, c.want === 'PASS' ? 0 : 1, r.stdout + r.stderr);
        const verdictLine = r.stdout.trim().split('\n').at(-1) ?? '';
        assert.ok(verdictLine.startsWith(`gpu-check: VERDICT: ${c.want}: `), verdictLine);
        assert.match(verdictLine, c.why);
        const written = JSON.parse(readFileSync(files.out, 'utf8')) as { verdict: string; comparisons: unknown[]; headline: { speedup: number } };
        assert.equal(written.verdict, c.want);
        assert.equal(written.comparisons.length, MODELS.length * KINDS.length);
        assert.equal(written.headline.speedup, 2000 / c.gpuMs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
