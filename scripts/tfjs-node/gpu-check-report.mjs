/**
 * The last step of scripts/gpu-check.sh: joins the two bench:step results (tensorflow-gpu,
 * tensorflow on 2 CPU cores) and the 2-worker training metrics into bench/results/gpu.json,
 * prints a table and one verdict line, and exits 0 on PASS, 1 on FAIL.
 *
 * A plain .mjs (no build step) that reads only its arguments' files.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    gpu: { type: 'string' },
    cpu: { type: 'string' },
    metrics: { type: 'string' },
    out: { type: 'string' },
    'gpu-name': { type: 'string', default: 'unknown' },
    'install-line': { type: 'string', default: '' },
    'cpu-baseline': { type: 'string', default: '' },
    probe: { type: 'string', default: '{}' },
    target: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '' },
    'budget-s': { type: 'string', default: '480' },
  },
});
for (const k of ['gpu', 'cpu', 'metrics', 'out']) if (a[k] === undefined) throw new Error(`--${k} is required`);

/** The sane-training floor: 2 epochs of MNIST reach ~0.9 clean accuracy; below this the GPU math is suspect. */
const MIN_CLEAN_ACCURACY = 0.5;
const HEADLINE = { model: 'preact-resnet-18', kind: 'PGD-10' };
const target = Number(a.target);
const budgetS = Number(a['budget-s']);

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const gpu = readJson(a.gpu);
const cpu = readJson(a.cpu);
const metrics = readJson(a.metrics);
const probe = JSON.parse(a.probe);
const seconds = Object.fromEntries(
  a.seconds
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]),
);

// The rows `dat train` would run: the compiled step where there is one (bench labels the eager twin `<backend>-eager`).
const rowsOf = (result, backend) => result.rows.filter((r) => r.backend === backend);
const gpuRows = rowsOf(gpu, 'tensorflow-gpu');
const cpuRows = rowsOf(cpu, 'tensorflow');
const comparisons = gpuRows.map((g) => {
  const c = cpuRows.find((r) => r.model === g.model && r.kind === g.kind && r.batch === g.batch);
  return {
    model: g.model,
    kind: g.kind,
    batch: g.batch,
    gpuExecution: g.execution,
    gpuMs: g.medianMs,
    gpuImagesPerSecond: g.imagesPerSecond,
    cpu2Ms: c?.medianMs ?? null,
    cpu2Execution: c?.execution ?? null,
    speedup: c === undefined ? null : c.medianMs / g.medianMs,
  };
});

const headline = comparisons.find((c) => c.model === HEADLINE.model && c.kind === HEADLINE.kind);
const problems = [];
if (probe.isUsingGpuDevice !== true) problems.push('TensorFlow did not use the GPU');
if (gpu.unavailable?.length > 0) problems.push(`bench skipped ${gpu.unavailable.map((u) => `${u.backend} (${u.reason})`).join(', ')}`);
const eager = comparisons.filter((c) => c.gpuExecution !== 'graph');
if (eager.length > 0) problems.push(`the GPU step ran eagerly, not as compiled graphs, for ${eager.map((c) => `${c.model} ${c.kind}`).join(', ')}`);
if (headline === undefined || headline.speedup === null) problems.push(`no ${HEADLINE.model} ${HEADLINE.kind} pair to compare`);
else if (headline.speedup < target) problems.push(`${HEADLINE.model} ${HEADLINE.kind}: GPU step ${headline.speedup.toFixed(1)}x the 2-core CPU step, below ${target}x`);
if (metrics.backend !== 'tensorflow-gpu') problems.push(`training ran on ${metrics.backend}, not tensorflow-gpu`);
if (metrics.workers !== 2 || metrics.epochsCompleted !== 2) problems.push(`training finished ${metrics.epochsCompleted} epochs with ${metrics.workers} workers, expected 2 and 2`);
if (!(metrics.cleanAccuracy >= MIN_CLEAN_ACCURACY)) problems.push(`clean accuracy ${metrics.cleanAccuracy} after 2 epochs is below ${MIN_CLEAN_ACCURACY}`);
const totalS = seconds.total ?? NaN;
if (!(totalS < budgetS)) problems.push(`took ${totalS} s, over the ${budgetS} s budget`);
const verdict = problems.length === 0 ? 'PASS' : 'FAIL';

const result = {
  benchmark: 'gpu-check',
  date: new Date().toISOString(),
  gpu: a['gpu-name'],
  install: a['install-line'],
  cpuBaseline: a['cpu-baseline'],
  probe,
  seconds,
  budgetSeconds: budgetS,
  speedupTarget: target,
  headline: headline ?? null,
  comparisons,
  training: {
    backend: metrics.backend,
    workers: metrics.workers,
    epochs: metrics.epochsCompleted,
    cleanAccuracy: metrics.cleanAccuracy,
    robustAccuracy: metrics.robustAccuracy,
    imagesPerSecond: metrics.imagesPerSecond,
    wallSeconds: metrics.wallSeconds,
  },
  gpuMatmulGflops: gpu.matmul?.['tensorflow-gpu']?.bestGflops ?? null,
  cpu2MatmulGflops: cpu.matmul?.tensorflow?.bestGflops ?? null,
  verdict,
  problems,
};
writeFileSync(`${a.out}.part`, JSON.stringify(result, null, 2) + '\n');
renameSync(`${a.out}.part`, a.out);

const fmt = (x, d = 1) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
console.log(`\nGPU ${a['gpu-name']}: step time, batch 128 (tensorflow-gpu vs tensorflow on 2 CPU cores)`);
console.log(['model', 'step', 'GPU exec', 'GPU ms', '2-core ms', 'speedup'].join('\t'));
for (const c of comparisons) console.log([c.model, c.kind, c.gpuExecution, fmt(c.gpuMs), fmt(c.cpu2Ms), `${fmt(c.speedup)}x`].join('\t'));
console.log(`training: 2 workers, 2 epochs on ${metrics.backend}: clean ${fmt(metrics.cleanAccuracy * 100)}%, robust ${fmt(metrics.robustAccuracy * 100)}%, ${fmt(metrics.imagesPerSecond, 0)} img/s`);
console.log(`time: ${Object.entries(seconds).map(([k, v]) => `${k} ${v}s`).join(', ')}; wrote ${a.out}`);
const head = headline?.speedup == null ? 'no headline ratio' : `${HEADLINE.model} ${HEADLINE.kind} ${headline.speedup.toFixed(1)}x the 2-core CPU step (target ${target}x)`;
console.log(`gpu-check: VERDICT: ${verdict}: ${head}${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`);
process.exitCode = verdict === 'PASS' ? 0 : 1;
