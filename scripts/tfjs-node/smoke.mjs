/**
 * Smoke test of a native TensorFlow.js backend, run by scripts/install-tfjs-node.sh
 * from the project directory: `node scripts/tfjs-node/smoke.mjs [@tensorflow/tfjs-node]`.
 *
 * Imports the package the way the worker does, checks that the `tensorflow`
 * backend is active, and compares a conv2d forward pass and its gradients with the
 * pure-JS cpu backend on the same inputs, then trains a small conv layer for a few
 * SGD steps and requires the loss to drop. Exits 1 with the reason on any failure.
 * Prints one JSON line on success.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = process.argv[2] ?? '@tensorflow/tfjs-node';
const NATIVE_BACKEND = 'tensorflow';
// float32 conv sums of ~150 products: native (oneDNN) and cpu differ by rounding only.
const TOLERANCE = 1e-3;

const require = createRequire(join(process.cwd(), 'package.json'));
const mod = await import(pathToFileURL(require.resolve(pkg)).href);
const tf = mod.default ?? mod;

/** Loss and its gradients w.r.t. input and filter, as plain arrays, on the current backend. */
function convGrads() {
  return tf.tidy(() => {
    const x = tf.randomUniform([2, 12, 12, 3], -1, 1, 'float32', 7);
    const w = tf.randomUniform([3, 3, 3, 8], -1, 1, 'float32', 11);
    const loss = (xi, wi) => tf.conv2d(xi, wi, 1, 'same').relu().square().mean();
    const [dx, dw] = tf.grads(loss)([x, w]);
    return { loss: loss(x, w).dataSync()[0], dx: Array.from(dx.dataSync()), dw: Array.from(dw.dataSync()) };
  });
}

/** A few SGD steps fitting a conv layer to a fixed target; returns the first and last loss. */
function trainSteps() {
  const STEPS = 5;
  const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 3);
  const target = tf.randomUniform([4, 8, 8, 4], -1, 1, 'float32', 5);
  const w = tf.variable(tf.randomUniform([3, 3, 3, 4], -0.1, 0.1, 'float32', 13));
  const opt = tf.train.sgd(0.1);
  const losses = [];
  for (let i = 0; i < STEPS; i++) {
    const loss = opt.minimize(() => tf.conv2d(x, w, 1, 'same').sub(target).square().mean(), true, [w]);
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  tf.dispose([x, target, w]);
  opt.dispose();
  return { first: losses[0], last: losses[STEPS - 1] };
}

function maxRelDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

if (tf.getBackend() !== NATIVE_BACKEND) {
  await tf.setBackend(NATIVE_BACKEND);
}
if (tf.getBackend() !== NATIVE_BACKEND) {
  console.error(`backend is ${tf.getBackend()}, expected ${NATIVE_BACKEND}`);
  process.exit(1);
}
// tfjs-node-gpu without a usable CUDA device computes on the CPU; the install reports which it was.
const usingGpu = tf.backend().isUsingGpuDevice === true;
const native = convGrads();
const trained = trainSteps();
if (!(trained.last < trained.first)) {
  console.error(`training did not reduce the loss: ${trained.first} -> ${trained.last}`);
  process.exit(1);
}
await tf.setBackend('cpu');
const reference = convGrads();
const diff = Math.max(maxRelDiff([native.loss], [reference.loss]), maxRelDiff(native.dx, reference.dx), maxRelDiff(native.dw, reference.dw));
if (!(diff <= TOLERANCE)) {
  console.error(`conv2d gradients differ from the cpu backend: max relative difference ${diff}`);
  process.exit(1);
}
console.log(JSON.stringify({ backend: NATIVE_BACKEND, tfjs: tf.version.tfjs, isUsingGpuDevice: usingGpu, loss: native.loss, maxRelDiffVsCpu: diff, trainLoss: [trained.first, trained.last] }));
