/**
 * `npm run bench:step`: images/s of one full training step (attack, loss,
 * gradients, optimizer update: exactly what `dat train` runs per step) for
 * each model and step kind on each usable backend, at batch 128 (or at each
 * batch size of a `--batch 128,512` sweep).
 *
 * 1. For each backend that selectBackend can activate: measure the machine's
 *    matmul GFLOP/s on it (the yardstick).
 * 2. For each model and kind (plain, FGSM-RS, PGD-10): build the model,
 *    run warm-up steps, then time `reps` steps, and more until the timed
 *    steps add up to `--min-time-ms` (default 3000, at most 200 steps);
 *    report the median.
 * 3. Effective GFLOP/s = estimated step FLOPs / step time, and its fraction
 *    of the matmul figure (how far the step is from the hardware's limit).
 * 4. Print a table, then native (`tensorflow`) against `wasm` per model,
 *    kind and batch size (the ratio of step times and of CPU time per step);
 *    write bench/results/step.json.
 *
 * Where the time goes: each step is split into `computeGradients` (attack,
 * forward, backward, and the gradient download into one Float32Array) and
 * `applyGradients` (upload of the mean gradient, optimizer update, and the
 * wait for it). The gradient download alone is timed too (`readback`), and
 * the CPU time the process received per step: on a shared machine wall time
 * mixes in other jobs, CPU time per step does not.
 *
 * Step FLOPs are estimated from the dense and conv layers only: F = 2 x MACs
 * of one forward pass per image; a weight-gradient pass costs 3F (forward,
 * input and weight gradients), an attack step 2F (forward, input gradient).
 * plain = 3F, FGSM-RS = 2F + 3F, PGD-10 with DAT's adv + clean loss = 10 x 2F + 2 x 3F.
 *
 * The pure-JS cpu backend (~0.3 GFLOP/s) only runs the MLP's plain and
 * FGSM-RS steps, once (the skipped ones are listed in the result's `notes`);
 * any step slower than 5 s is timed once after one warm-up. Options: --quick
 * (or DAT_BENCH_QUICK=1: small-cnn on wasm only), --backends wasm,cpu,
 * --models mlp,small-cnn (default: all but preact-resnet-18, which must be named), --kinds plain,pgd10, --reps N, --min-time-ms N (0: exactly --reps steps), --batch N or a
 * comma-separated sweep such as --batch 128,256,512 (each configuration is
 * timed at every batch size; the default stays 128), --out-dir DIR (write
 * step.json there instead, for scripts that compare runs: scripts/gpu-check.sh).
 * Every run writes the one step.json with the options it ran; history lives in
 * git, not in one file per run. The load average at the
 * start and end is recorded: on a shared machine it says how many cores the
 * native backend could actually get.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { DEPRECATED_MODELS, MODELS, type AttackId, type LossId, type ModelId } from '../common/contract.js';
import { AUTO_BACKEND_ORDER, selectBackend, type ConcreteBackendId } from '../worker/backend/select-backend.js';
import { identityReducer } from '../worker/comm/collective.js';
import { createModel, countParams } from '../worker/train/models/index.js';
import { createOptimizer } from '../worker/train/optimizers/index.js';
import { createNativeCompiledStep } from '../worker/backend/native/graph/native-compiled-step.js';
import { compiledStepEngine } from '../worker/train/compiled-step-engine.js';
import { eagerStepEngine } from '../worker/train/step-engine.js';
import { applyGradients, computeGradients, type HostBatch, type StepConfig } from '../worker/train/train-step.js';
import { flattenTensors, trainableVariables } from '../worker/train/variables.js';
import { getErrorMessage } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { Rng } from '../worker/util/rng.js';
import { measureMatmulGflops, type MatmulGflops } from './lib/matmul-gflops.js';
import { printTable, writeResult } from './lib/report.js';

/** The step kinds measured. */
const KINDS = {
  plain: { attack: 'none', loss: 'adv', steps: 1, label: 'plain' },
  fgsmrs: { attack: 'fgsm-rs', loss: 'adv', steps: 1, label: 'FGSM-RS' },
  pgd10: { attack: 'pgd', loss: 'adv-clean', steps: 10, label: 'PGD-10' },
} as const satisfies Record<string, { attack: AttackId; loss: LossId; steps: number; label: string }>;
type KindId = keyof typeof KINDS;

/** Input shape per model: the MNIST models on 28x28x1, the ResNet on CIFAR's 32x32x3. */
const SHAPES: Readonly<Record<ModelId, readonly [number, number, number]>> = {
  mlp: [28, 28, 1],
  'small-cnn': [28, 28, 1],
  'madry-cnn': [28, 28, 1],
  'preact-resnet-8': [32, 32, 3],
  'preact-resnet-18': [32, 32, 3],
  'wide-resnet-34-10': [32, 32, 3],
  'preact-resnet': [32, 32, 3],
};
const EPS: Readonly<Record<ModelId, number>> = { mlp: 0.3, 'small-cnn': 0.3, 'madry-cnn': 0.3, 'preact-resnet-8': 8 / 255, 'preact-resnet-18': 8 / 255, 'wide-resnet-34-10': 8 / 255, 'preact-resnet': 8 / 255 };
/**
 * The models a run without `--models` measures: every model but the
 * deprecated alias (the same network as preact-resnet-8) and the two large
 * ResNets, whose PGD-10 step at batch 128 takes minutes per backend on two CPU
 * cores (ask for them with `--models preact-resnet-18,wide-resnet-34-10`).
 */
const LARGE_MODELS: readonly ModelId[] = ['preact-resnet-18', 'wide-resnet-34-10'];
const DEFAULT_MODELS: readonly ModelId[] = MODELS.filter((m) => !LARGE_MODELS.includes(m) && DEPRECATED_MODELS[m] === undefined);
const NUM_CLASSES = 10;
const WARMUP_STEPS = 2;
/** The batch size of the headline comparison (a sweep adds others, never replaces it). */
const DEFAULT_BATCH = 128;
/** Upper bound on timed steps per configuration when `--min-time-ms` asks for more than `--reps`. */
const MAX_REPS = 200;
/** Default of `--min-time-ms`: timed steps per configuration add up to at least this. */
const DEFAULT_MIN_TIME_MS = 3000;
/** Steps slower than this are timed once (keeps the full benchmark within tens of minutes). */
const SLOW_STEP_MS = 5000;

/** One measured configuration. */
export interface StepRow {
  /** The backend, with `-eager` appended for the native backend's eager step. */
  readonly backend: string;
  /** How the step ran: `graph` is the native compiled step (what `dat train` runs there), `eager` op by op. */
  readonly execution: 'graph' | 'eager';
  readonly model: ModelId;
  readonly kind: string;
  readonly batch: number;
  readonly params: number;
  readonly reps: number;
  readonly medianMs: number;
  readonly minMs: number;
  /** Median of computeGradients (attack, forward, backward, gradient download). */
  readonly computeMs: number;
  /** Median of applyGradients plus the wait for the update. */
  readonly applyMs: number;
  /** Best time to download every weight gradient once (flattenTensors over the weights). */
  readonly readbackMs: number;
  /** Median CPU time (user + system, all threads) the process used per step. */
  readonly cpuMs: number;
  /** cpuMs / medianMs: how many cores the step kept busy. */
  readonly coresBusy: number;
  readonly imagesPerSecond: number;
  readonly stepGflop: number;
  readonly effectiveGflops: number;
  readonly fractionOfMatmul: number;
  /** Step GFLOP per CPU-second: effective throughput with other jobs' share taken out. */
  readonly gflopPerCpuSecond: number;
}

/** Per-step timings of one configuration. */
interface StepTimes {
  readonly wallMs: number;
  readonly computeMs: number;
  readonly applyMs: number;
  readonly cpuMs: number;
}

/** MACs of one forward pass for one example, from the conv and dense layers. */
export function forwardMacsPerExample(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const kernel = layer.getWeights()[0];
    if (kernel === undefined) continue;
    if (cls === 'Conv2D') {
      const out = layer.outputShape as (number | null)[];
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      macs += (out[1] ?? 0) * (out[2] ?? 0) * kh * kw * cin * cout;
    } else if (cls === 'Dense') {
      macs += kernel.size;
    }
  }
  return macs;
}

/** Forward-pass equivalents of one step of `kind` (see the module comment). */
function forwardEquivalents(kind: KindId): number {
  switch (kind) {
    case 'plain':
      return 3;
    case 'fgsmrs':
      return 2 + 3;
    case 'pgd10':
      return KINDS.pgd10.steps * 2 + 2 * 3;
  }
}

function randomBatch(n: number, shape: readonly [number, number, number], seed: number): HostBatch {
  const rng = new Rng(seed);
  const x = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.nextInt(NUM_CLASSES);
  return { n, x, y };
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function timeSteps(
  modelId: ModelId,
  kind: KindId,
  batchSize: number,
  reps: number,
  warmup: number,
  tryGraph: boolean,
  minTimedMs: number,
): Promise<{ times: StepTimes[]; params: number; macs: number; readbackMs: number; execution: StepRow['execution'] }> {
  const shape = SHAPES[modelId];
  const k = KINDS[kind];
  const eps = EPS[modelId];
  const model = createModel(modelId, shape, NUM_CLASSES, 1);
  const graph = tryGraph ? createNativeCompiledStep(model) : undefined;
  const engine = graph?.ok === true ? compiledStepEngine(graph.step) : eagerStepEngine;
  const optimizer = createOptimizer('adam', { weightDecay: 0, momentum: 0.9 });
  const cfg: StepConfig = {
    attack: k.attack,
    attackParams: { eps, steps: k.steps, stepSize: k.attack === 'fgsm-rs' ? 1.25 * eps : (2.5 * eps) / k.steps, restarts: 1, randomStart: true, seed: 1 },
    loss: k.loss,
    lambda: 1,
    beta: 6,
    numClasses: NUM_CLASSES,
    inputShape: shape,
  };
  const batch = randomBatch(batchSize, shape, 7);
  const times: StepTimes[] = [];
  const step = async (i: number): Promise<StepTimes> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { flatGrad } = await computeGradients(model, batch, cfg, i + 1, engine);
    const t1 = performance.now();
    applyGradients(model, optimizer, await identityReducer(flatGrad, i), 1e-3, engine);
    // Wait for the update to land so the next step's timing does not absorb it.
    await model.trainableWeights[0]!.read().data();
    const t2 = performance.now();
    return { wallMs: t2 - t0, computeMs: t1 - t0, applyMs: t2 - t1, cpuMs: cpuMsSince(cpu0) };
  };
  try {
    const first = await step(0);
    // A step slower than SLOW_STEP_MS (the ResNet's PGD-10 on a CPU) is timed once after that one warm-up.
    const slow = first.wallMs > SLOW_STEP_MS;
    const warmupLeft = slow ? 0 : warmup - 1;
    const timed = slow ? 1 : reps;
    for (let i = 1; i <= warmupLeft; i++) await step(i);
    for (let i = 0; i < timed; i++) times.push(await step(warmupLeft + 1 + i));
    // Fast steps are timed until minTimedMs have passed: the native step runs in phases of several steps, and 5 reps can all fall into one.
    let timedMs = times.reduce((a, t) => a + t.wallMs, 0);
    while (!slow && timedMs < minTimedMs && times.length < MAX_REPS) {
      const t = await step(warmupLeft + 1 + times.length);
      times.push(t);
      timedMs += t.wallMs;
    }
    // The gradient download alone: the weights have the gradients' shapes, and reading them is the same copy.
    const vars = trainableVariables(model);
    let readbackMs = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await flattenTensors(vars);
      readbackMs = Math.min(readbackMs, performance.now() - t0);
    }
    return { times, params: countParams(model), macs: forwardMacsPerExample(model), readbackMs, execution: engine.execution };
  } finally {
    engine.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The backend compared, and what it is compared against, in the ratio table. */
const NATIVE = 'tensorflow';
const BASELINE = 'wasm';
/** Row label of the native backend's eager step, measured beside the compiled one. */
const EAGER_SUFFIX = '-eager';
/** Backends that can run the compiled step. */
const NATIVE_BACKENDS: ReadonlySet<string> = new Set<ConcreteBackendId>(['tensorflow', 'tensorflow-gpu']);

/** Environment variables that change how libtensorflow or the benchmark runs (recorded with the result). */
const RECORDED_ENV = ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'TF_ENABLE_ONEDNN_OPTS', 'OMP_NUM_THREADS', 'TF_CPP_MIN_LOG_LEVEL'] as const;

function pickEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of RECORDED_ENV) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** One model, kind and batch size measured on both backends. */
export interface BackendComparison {
  readonly model: ModelId;
  readonly kind: string;
  readonly batch: number;
  readonly baselineMs: number;
  readonly nativeMs: number;
  /** baselineMs / nativeMs: above 1 means native is faster. */
  readonly speedup: number;
  /** The same ratio of CPU time per step (fairer while other jobs share the cores). */
  readonly speedupPerCpu: number;
  readonly baselineGflops: number;
  readonly nativeGflops: number;
  /** CPU cores the native step kept busy (CPU time / wall time). */
  readonly nativeCoresBusy: number;
}

/** Pairs the rows of `native` and `baseline` measured for the same model, kind and batch size (pure). */
export function compareBackends(rows: readonly StepRow[], native: string, baseline: string): BackendComparison[] {
  const out: BackendComparison[] = [];
  for (const n of rows) {
    if (n.backend !== native) continue;
    const b = rows.find((r) => r.backend === baseline && r.model === n.model && r.kind === n.kind && r.batch === n.batch);
    if (b === undefined) continue;
    out.push({
      model: n.model,
      kind: n.kind,
      batch: n.batch,
      baselineMs: b.medianMs,
      nativeMs: n.medianMs,
      speedup: b.medianMs / n.medianMs,
      speedupPerCpu: b.cpuMs / n.cpuMs,
      baselineGflops: b.effectiveGflops,
      nativeGflops: n.effectiveGflops,
      nativeCoresBusy: n.coresBusy,
    });
  }
  return out;
}

/** Parses `--batch`: one positive integer or a comma-separated list of them (pure). */
export function parseBatches(arg: string | undefined): number[] {
  const text = arg ?? String(DEFAULT_BATCH);
  const out = text.split(',').map((t) => Number(t.trim()));
  if (out.length === 0 || out.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batch must be a positive integer or a comma-separated list of them, got ${text}`);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: process.env.DAT_BENCH_QUICK === '1' },
      backends: { type: 'string' },
      models: { type: 'string' },
      kinds: { type: 'string' },
      reps: { type: 'string' },
      'min-time-ms': { type: 'string' },
      batch: { type: 'string', default: String(DEFAULT_BATCH) },
      'out-dir': { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const backends = (values.backends?.split(',') ?? (quick ? ['wasm'] : AUTO_BACKEND_ORDER)) as ConcreteBackendId[];
  const models = (values.models?.split(',') ?? (quick ? ['small-cnn'] : DEFAULT_MODELS)) as ModelId[];
  const kinds = (values.kinds?.split(',') ?? Object.keys(KINDS)) as KindId[];
  const reps = Number(values.reps ?? (quick ? 3 : 5));
  const minTimeMs = Number(values['min-time-ms'] ?? (quick ? 0 : DEFAULT_MIN_TIME_MS));
  if (!Number.isFinite(minTimeMs) || minTimeMs < 0) throw new Error(`--min-time-ms must be a number >= 0, got ${values['min-time-ms']}`);
  const batches = parseBatches(values.batch);
  for (const m of models) if (!MODELS.includes(m)) throw new Error(`unknown model ${m}; expected ${MODELS.join(', ')}`);
  for (const k of kinds) if (!(k in KINDS)) throw new Error(`unknown kind ${k}; expected ${Object.keys(KINDS).join(', ')}`);

  const rows: StepRow[] = [];
  const matmul: Record<string, MatmulGflops> = {};
  const unavailable: { backend: string; reason: string }[] = [];
  const notes: string[] = [];
  const loadAtStart = loadavg();
  for (const backend of backends) {
    try {
      await selectBackend(backend, silentLogger);
    } catch (err) {
      unavailable.push({ backend, reason: getErrorMessage(err) });
      process.stderr.write(`skipped backend ${backend}: ${getErrorMessage(err)}\n`);
      continue;
    }
    const isCpu = backend === 'cpu';
    // Step 1
    const mm = await measureMatmulGflops(tf, isCpu ? { sizes: [256], reps: 2 } : {});
    matmul[backend] = mm;
    process.stderr.write(`backend ${backend}: matmul ${mm.bestGflops.toFixed(1)} GFLOP/s\n`);
    // Step 2
    for (const model of models) {
      for (const kind of kinds) {
        // The pure-JS backend is ~100x slower: only the cheapest configurations, once.
        if (isCpu && (model !== 'mlp' || kind === 'pgd10')) {
          notes.push(`cpu ${model} ${KINDS[kind].label} not run: the pure-JS backend would take minutes per step`);
          continue;
        }
        // Native backends run the compiled step (graphs) where the model allows it, as `dat train` does, and the eager step beside it.
        const variants = NATIVE_BACKENDS.has(backend) ? [true, false] : [false];
        for (const batch of batches) {
          let graphRan = false;
          for (const tryGraph of variants) {
            // A model the graphs do not cover already ran eagerly in the first variant.
            if (!tryGraph && variants.includes(true) && !graphRan) continue;
            const r = await timeSteps(model, kind, batch, isCpu ? 1 : reps, isCpu ? 1 : WARMUP_STEPS, tryGraph, isCpu ? 0 : minTimeMs);
            graphRan ||= r.execution === 'graph';
            const ms = median(r.times.map((t) => t.wallMs));
            const cpuMs = median(r.times.map((t) => t.cpuMs));
            // Step 3
            const stepGflop = (2 * r.macs * forwardEquivalents(kind) * batch) / 1e9;
            const effectiveGflops = stepGflop / (ms / 1000);
            const row: StepRow = {
              backend: tryGraph || !variants.includes(true) ? backend : `${backend}${EAGER_SUFFIX}`,
              execution: r.execution,
              model,
              kind: KINDS[kind].label,
              batch,
              params: r.params,
              reps: r.times.length,
              medianMs: ms,
              minMs: Math.min(...r.times.map((t) => t.wallMs)),
              computeMs: median(r.times.map((t) => t.computeMs)),
              applyMs: median(r.times.map((t) => t.applyMs)),
              readbackMs: r.readbackMs,
              cpuMs,
              coresBusy: cpuMs / ms,
              imagesPerSecond: (batch * 1000) / ms,
              stepGflop,
              effectiveGflops,
              fractionOfMatmul: effectiveGflops / mm.bestGflops,
              gflopPerCpuSecond: stepGflop / (cpuMs / 1000),
            };
            rows.push(row);
            process.stderr.write(`${row.backend} ${model} ${row.kind} batch ${batch}: ${row.imagesPerSecond.toFixed(1)} img/s (${ms.toFixed(0)} ms/step, ${row.coresBusy.toFixed(2)} cores)\n`);
          }
        }
      }
    }
  }
  const loadAtEnd = loadavg();
  // Step 4
  const matmulOf = (backend: string): number => (matmul[backend.replace(EAGER_SUFFIX, '')] as MatmulGflops | undefined)?.bestGflops ?? NaN;
  printTable(
    `Training step, batch ${batches.join(', ')} (median of timed reps)`,
    ['backend', 'execution', 'model', 'step', 'batch', 'reps', 'img/s', 'ms/step', 'compute ms', 'apply ms', 'readback ms', 'cores', 'GFLOP/step', 'eff. GFLOP/s', 'GFLOP/CPU-s', 'matmul GFLOP/s', '% of matmul'],
    rows.map((r) => [
      r.backend,
      r.execution,
      r.model,
      r.kind,
      String(r.batch),
      String(r.reps),
      r.imagesPerSecond,
      r.medianMs,
      r.computeMs,
      r.applyMs,
      r.readbackMs,
      r.coresBusy.toFixed(2),
      r.stepGflop.toFixed(2),
      r.effectiveGflops,
      r.gflopPerCpuSecond,
      matmulOf(r.backend),
      100 * r.fractionOfMatmul,
    ]),
  );
  const ratios = compareBackends(rows, NATIVE, BASELINE);
  const eagerRatios = compareBackends(rows, `${NATIVE}${EAGER_SUFFIX}`, BASELINE);
  for (const [label, list] of [[NATIVE, ratios], [`${NATIVE}${EAGER_SUFFIX}`, eagerRatios]] as const) {
    if (list.length === 0) continue;
    printTable(
      `Native (${label}) against ${BASELINE}, same run: speed-up = ${BASELINE} ms / ${label} ms`,
      ['model', 'step', 'batch', `${BASELINE} ms`, `${label} ms`, 'speed-up', 'speed-up per CPU-s', `${BASELINE} eff. GFLOP/s`, `${label} eff. GFLOP/s`, `${label} cores`],
      list.map((c) => [
        c.model,
        c.kind,
        String(c.batch),
        c.baselineMs,
        c.nativeMs,
        c.speedup.toFixed(2),
        c.speedupPerCpu.toFixed(2),
        c.baselineGflops,
        c.nativeGflops,
        c.nativeCoresBusy.toFixed(2),
      ]),
    );
  }
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`load average (1 min) at start ${loadAtStart[0]!.toFixed(1)}, at end ${loadAtEnd[0]!.toFixed(1)}\n`);
  const path = await writeResult('step', {
    // The first batch size, as before sweeps existed; every row carries its own.
    batch: batches[0],
    batches,
    reps,
    minTimeMs,
    quick,
    matmul,
    unavailable,
    notes,
    env: pickEnv(),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    rows,
    ratios,
    eagerRatios,
    flopModel: 'conv+dense MACs x2; plain 3F, FGSM-RS 5F, PGD-10 (adv+clean) 26F',
  }, values['out-dir'] === undefined ? undefined : resolve(values['out-dir']));
  process.stdout.write(`\nWrote ${path}\n`);
}

// Only as the entry point: tests import the pure helpers above.
const isEntryPoint = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntryPoint) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:step failed: ${getErrorMessage(err)}\n`);
    process.exitCode = 1;
  });
}
