/**
 * Measures float32 matmul throughput of TensorFlow.js backends in this process:
 * `node scripts/tfjs-node/matmul-gflops.mjs [size=1024] [backends=tensorflow,wasm,cpu]`
 * from the project directory. A backend whose package is missing is reported as such.
 *
 * For each backend: GFLOP/s (2*n^3 per product, data read back each time so lazy
 * backends cannot cheat) and CPU-time/wall-time over the timed loop, which shows how
 * many cores the backend kept busy. Prints one JSON line per backend.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const size = Number(process.argv[2] ?? 1024);
const backends = (process.argv[3] ?? 'tensorflow,wasm,cpu').split(',');
// Enough repetitions for a stable figure without hogging the shared cores.
const MIN_SECONDS = 2;
const MAX_REPS = 50;

const require = createRequire(join(process.cwd(), 'package.json'));
const load = async (pkg) => import(pathToFileURL(require.resolve(pkg)).href);
const tfMod = await load('@tensorflow/tfjs');
const tf = tfMod.default ?? tfMod;

/** Makes `name` the active backend, loading its package first; returns why not when impossible. */
async function activate(name) {
  try {
    if (name === 'tensorflow') await load('@tensorflow/tfjs-node');
    if (name === 'wasm') {
      const wasm = await load('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep);
      // Same setting as the worker: no emscripten thread pool under Node here.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
    if (!(await tf.setBackend(name))) return 'setBackend returned false';
    return undefined;
  } catch (err) {
    return String(err instanceof Error ? err.message : err).split('\n')[0];
  }
}

for (const name of backends) {
  const why = await activate(name);
  if (why !== undefined) {
    console.log(JSON.stringify({ backend: name, size, unavailable: why }));
    continue;
  }
  const a = tf.randomUniform([size, size], -1, 1, 'float32', 1);
  const b = tf.randomUniform([size, size], -1, 1, 'float32', 2);
  const product = () => tf.tidy(() => tf.matMul(a, b)).dataSync().length;
  product(); // warm-up: kernel selection, allocation, wasm compile
  let reps = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let seconds = 0;
  while (seconds < MIN_SECONDS && reps < MAX_REPS) {
    product();
    reps++;
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  tf.dispose([a, b]);
  console.log(JSON.stringify({
    backend: name,
    size,
    reps,
    seconds: Number(seconds.toFixed(3)),
    gflops: Number(((2 * size ** 3 * reps) / seconds / 1e9).toFixed(2)),
    coresBusy: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)),
  }));
}
