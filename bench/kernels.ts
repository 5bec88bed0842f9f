/**
 * Kernel microbenchmark and PGD training-step benchmark for the selected
 * TensorFlow.js backend (wasm by default).
 *
 * Steps:
 * 1. Select the backend (registers this project's wasm training kernels).
 * 2. Measure the machine's square-matmul GFLOP/s (the yardstick).
 * 3. Time each training kernel at the small CNN's batch-128 shapes.
 * 4. Time full PGD-k training steps of the small CNN ("Fast is better than
 *    free" MNIST model): k attack steps of input gradients at batch B, then
 *    one weight-gradient step on adversarial + clean (2B images).
 * 5. Profile one step by kernel.
 *
 * Usage: `node dist/bench/kernels.js [--backend wasm] [--batch 128] [--attack-steps 10] [--reps 5] [--stock] [--json]`.
 * `--stock` skips this project's wasm kernels and times only the kernels
 * (the PGD step cannot run: stock wasm lacks Conv2DBackpropFilter).
 * The CPU may be shared: every timing is repeated and reported as min/median/max.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { BACKENDS, type BackendId } from '../common/contract.js';
import { selectBackend } from '../worker/backend/select-backend.js';
import { createLogger } from '../common/log.js';
import { getErrorMessage } from '../common/errors.js';
import { measureMatmulGflops } from './lib/matmul-gflops.js';

/** Min/median/max of repeated timings, in ms. */
interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

function spread(samples: readonly number[]): Spread {
  const s = [...samples].sort((a, b) => a - b);
  return { min: s[0] ?? NaN, median: s[Math.floor(s.length / 2)] ?? NaN, max: s[s.length - 1] ?? NaN };
}

const MNIST_SHAPE = [28, 28, 1] as const;
const NUM_CLASSES = 10;
/** PGD radius and step for MNIST (values do not change the cost). */
const EPS = 0.3;
const STEP_SIZE = 0.01;

/** The "Fast is better than free" small MNIST CNN. */
function buildSmallCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [...MNIST_SHAPE], filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 100, activation: 'relu' }),
      tf.layers.dense({ units: NUM_CLASSES }),
    ],
  });
}

/** Multiply-accumulates of one forward pass per image, per layer (convs and denses). */
function countMacsPerLayer(model: tf.LayersModel): number[] {
  const macs: number[] = [];
  for (const layer of model.layers) {
    const w = layer.getWeights()[0];
    if (w === undefined) continue;
    const out = layer.outputShape as number[];
    if (w.shape.length === 4) {
      const [kh = 0, kw = 0, ci = 0] = w.shape;
      macs.push((out[1] ?? 0) * (out[2] ?? 0) * (out[3] ?? 0) * kh * kw * ci);
    } else if (w.shape.length === 2) {
      macs.push((w.shape[0] ?? 0) * (w.shape[1] ?? 0));
    }
  }
  return macs;
}

/**
 * FLOPs of one PGD training step per clean image: each attack step is a
 * forward plus input-gradient pass (2F); the weight step on 2 images is a
 * forward, input gradients of all but the first layer, and weight gradients.
 */
function pgdStepFlopsPerImage(layerMacs: readonly number[], attackSteps: number): number {
  const f = 2 * layerMacs.reduce((a, b) => a + b, 0);
  const firstLayer = 2 * (layerMacs[0] ?? 0);
  return attackSteps * (f + f) + 2 * (f + (f - firstLayer) + f);
}

function crossEntropy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
}

/** One PGD-k adversarial training step (attack, then SGD on adv + clean); resolves when the weights are updated. */
async function pgdTrainStep(model: tf.LayersModel, opt: tf.Optimizer, x: tf.Tensor4D, y: tf.Tensor2D, attackSteps: number): Promise<void> {
  const inputGrad = tf.grad((inp: tf.Tensor) => crossEntropy(model, inp, y));
  let adv = tf.tidy(() => x.add(tf.randomUniform(x.shape, -EPS, EPS)).clipByValue(0, 1));
  for (let s = 0; s < attackSteps; s++) {
    const prev = adv;
    adv = tf.tidy(() => {
      const g = inputGrad(prev);
      return prev.add(g.sign().mul(STEP_SIZE)).minimum(x.add(EPS)).maximum(x.sub(EPS)).clipByValue(0, 1);
    });
    prev.dispose();
  }
  const cost = opt.minimize(() => tf.tidy(() => crossEntropy(model, tf.concat([adv, x]), tf.concat([y, y]))), true);
  await cost?.data();
  tf.dispose([cost, adv].filter((t): t is tf.Tensor => t != null));
}

/** A kernel case: name, FLOPs, and a thunk producing the result tensor. */
interface KernelCase {
  readonly name: string;
  readonly flops: number;
  readonly run: () => tf.Tensor;
}

function buildKernelCases(batch: number): { cases: KernelCase[]; inputs: tf.Tensor[] } {
  const inputs: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    inputs.push(t);
    return t;
  };
  const cases: KernelCase[] = [];
  const convs = [
    { name: 'conv1 4x4s2 1->16', x: [batch, 28, 28, 1], f: [4, 4, 1, 16], s: 2 },
    { name: 'conv2 4x4s2 16->32', x: [batch, 14, 14, 16], f: [4, 4, 16, 32], s: 2 },
  ] as const;
  for (const c of convs) {
    const x = keep(tf.randomUniform([...c.x], -1, 1, 'float32', 1) as tf.Tensor4D);
    const f = keep(tf.randomUniform([...c.f], -1, 1, 'float32', 2) as tf.Tensor4D);
    const b = keep(tf.randomUniform([c.f[3]], -1, 1, 'float32', 3) as tf.Tensor1D);
    const y = keep(tf.conv2d(x, f, c.s, 'same'));
    const flops = 2 * y.size * c.f[0] * c.f[1] * c.f[2];
    cases.push({ name: `FusedConv2D ${c.name}`, flops, run: () => tf.fused.conv2d({ x, filter: f, strides: c.s, pad: 'same', bias: b, activation: 'relu' }) });
    cases.push({ name: `Conv2DBackpropInput ${c.name}`, flops, run: () => tf.conv2dTranspose(y, f, [...c.x], c.s, 'same') });
    cases.push({ name: `Conv2DBackpropFilter ${c.name}`, flops, run: () =>
        // The kernel alone (tf.grad would add the forward convolution).
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: y }, { strides: c.s, pad: 'same', dataFormat: 'NHWC', filterShape: [...c.f] }) as tf.Tensor,
    });
  }
  const h = keep(tf.randomUniform([batch, 1568], -1, 1, 'float32', 4));
  const w = keep(tf.randomUniform([1568, 100], -1, 1, 'float32', 5));
  const dy = keep(tf.randomUniform([batch, 100], -1, 1, 'float32', 6));
  const denseFlops = 2 * batch * 1568 * 100;
  cases.push({ name: 'MatMul dense1 x.W', flops: denseFlops, run: () => tf.matMul(h, w) });
  cases.push({ name: 'MatMul dense1 dy.W^T (transposeB)', flops: denseFlops, run: () => tf.matMul(dy, w, false, true) });
  cases.push({ name: 'MatMul dense1 x^T.dy (transposeA)', flops: denseFlops, run: () => tf.matMul(h, dy, true, false) });
  return { cases, inputs };
}

async function timeKernel(c: KernelCase, reps: number): Promise<Spread> {
  const samples: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const out = c.run();
    await out.data();
    const ms = performance.now() - t0;
    out.dispose();
    if (i > 0) samples.push(ms);
  }
  return spread(samples);
}

/** Total kernel time by kernel name over one profiled step. */
async function profileStep(run: () => Promise<void>): Promise<{ name: string; ms: number; calls: number }[]> {
  const info = await tf.profile(run);
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    byName.set(k.name, e);
  }
  return [...byName.entries()].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      batch: { type: 'string', default: '128' },
      'attack-steps': { type: 'string', default: '10' },
      reps: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      stock: { type: 'boolean', default: false },
    },
  });
  const backend = values.backend as BackendId;
  if (!BACKENDS.includes(backend)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}`);
  const batch = Number(values.batch);
  const attackSteps = Number(values['attack-steps']);
  const reps = Number(values.reps);

  // Step 1
  const stock = values.stock === true;
  const selected = await selectBackend(backend, createLogger({ component: 'bench' }), { wasmTrainingKernels: !stock });
  // Step 2
  const mm = await measureMatmulGflops(tf);
  // Step 3
  const { cases, inputs } = buildKernelCases(batch);
  const kernels: { name: string; ms: Spread; gflops: number; error?: string }[] = [];
  for (const c of cases) {
    try {
      const ms = await timeKernel(c, reps);
      kernels.push({ name: c.name, ms, gflops: c.flops / (ms.min * 1e6) });
    } catch (err) {
      // Stock wasm lacks some kernels; report which instead of stopping.
      kernels.push({ name: c.name, ms: { min: NaN, median: NaN, max: NaN }, gflops: NaN, error: getErrorMessage(err) });
    }
  }
  tf.dispose(inputs);
  const f1 = (v: number): string => v.toFixed(1);
  const printKernels = (): void => {
    console.log(`backend=${selected.name}${stock ? ' (stock kernels)' : ''} matmul best=${f1(mm.bestGflops)} GFLOP/s (${mm.bySize.map((s) => `n=${s.n}: ${f1(s.gflops)}`).join(', ')})`);
    console.log('kernel (batch %d)                          min ms  median  max     GFLOP/s@min', batch);
    for (const k of kernels) {
      const row = k.error === undefined ? `${f1(k.ms.min).padStart(6)}  ${f1(k.ms.median).padStart(6)}  ${f1(k.ms.max).padStart(6)}  ${f1(k.gflops).padStart(6)}` : `unavailable: ${k.error}`;
      console.log(`${k.name.padEnd(42)} ${row}`);
    }
  };
  if (stock) {
    if (values.json) process.stdout.write(JSON.stringify({ backend: selected.name, stock, matmul: mm, kernels }, null, 2) + '\n');
    else printKernels();
    return;
  }
  // Step 4
  const model = buildSmallCnn();
  const opt = tf.train.sgd(0.01);
  const x = tf.randomUniform([batch, ...MNIST_SHAPE], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([batch], 0, NUM_CLASSES, 'int32', 8) as tf.Tensor1D, NUM_CLASSES).toFloat() as tf.Tensor2D;
  const step = (): Promise<void> => pgdTrainStep(model, opt, x, y, attackSteps);
  await step(); // warm-up: operator creation, weight packing
  const tensorsBefore = tf.memory().numTensors;
  const stepMs: number[] = [];
  // CPU time too: on a shared machine wall time mostly measures the other
  // tenants, while this single-threaded process's CPU time is close to the
  // wall time it would take alone.
  const stepCpuMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const c = process.cpuUsage(c0);
    stepMs.push(performance.now() - t0);
    stepCpuMs.push((c.user + c.system) / 1e3);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  const stepSpread = spread(stepMs);
  const cpuSpread = spread(stepCpuMs);
  const flopsPerImage = pgdStepFlopsPerImage(countMacsPerLayer(model), attackSteps);
  const imagesPerSec = { min: batch / (stepSpread.max / 1e3), median: batch / (stepSpread.median / 1e3), max: batch / (stepSpread.min / 1e3) };
  const imagesPerCpuSec = { min: batch / (cpuSpread.max / 1e3), median: batch / (cpuSpread.median / 1e3), max: batch / (cpuSpread.min / 1e3) };
  const effectiveGflops = (flopsPerImage * batch) / (stepSpread.min * 1e6);
  // Step 5
  const profile = await profileStep(step);
  tf.dispose([x, y]);

  const result = {
    backend: selected.name,
    unavailable: selected.unavailable,
    matmul: mm,
    kernels,
    pgdStep: { batch, attackSteps, reps, stepMs: stepSpread, stepCpuMs: cpuSpread, imagesPerSec, imagesPerCpuSec, mflopsPerImage: flopsPerImage / 1e6, effectiveGflops, leakedTensors: leaked },
    profile: profile.slice(0, 15),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  printKernels();
  console.log(`PGD-${attackSteps} step batch=${batch}: ${f1(stepSpread.min)}/${f1(stepSpread.median)}/${f1(stepSpread.max)} ms (min/median/max) = ${f1(imagesPerSec.min)}..${f1(imagesPerSec.max)} images/s (median ${f1(imagesPerSec.median)})`);
  console.log(`  CPU time per step: ${f1(cpuSpread.min)}/${f1(cpuSpread.median)}/${f1(cpuSpread.max)} ms = ${f1(imagesPerCpuSec.min)}..${f1(imagesPerCpuSec.max)} images per CPU-second (median ${f1(imagesPerCpuSec.median)})`);
  console.log(`  ${f1(flopsPerImage / 1e6)} MFLOP per image -> effective ${f1(effectiveGflops)} GFLOP/s at best (${f1((100 * effectiveGflops) / mm.bestGflops)}% of matmul); leaked tensors per ${reps} steps: ${leaked}`);
  const total = profile.reduce((a, p) => a + p.ms, 0);
  console.log(`profile of one step (kernel time ${f1(total)} ms):`);
  for (const p of profile.slice(0, 15)) console.log(`  ${p.name.padEnd(24)} ${f1(p.ms).padStart(7)} ms  ${String(p.calls).padStart(4)} calls  ${f1((100 * p.ms) / total).padStart(5)}%`);
}

await main();
