/**
 * Picks the TensorFlow.js backend a worker trains on.
 *
 * `auto` tries, best first: the native TensorFlow bindings with CUDA
 * (`@tensorflow/tfjs-node-gpu`), the native CPU bindings
 * (`@tensorflow/tfjs-node`), the wasm backend (XNNPACK, SIMD, one thread),
 * then the pure-JS `cpu` backend. The native packages are optional: they may be
 * absent, of another tfjs version, or installed without a working binding.
 * Every backend that was skipped is returned (and logged) with the reason.
 *
 * All project code imports `tf` from `@tensorflow/tfjs`; the native packages
 * register their `tensorflow` backend on that same engine when their version
 * matches, which is checked before they are used.
 *
 * `tfjs-node-gpu` loads fine on a node without CUDA or a GPU and then computes
 * on the CPU; it only counts when its binding reports a GPU device in use.
 * Otherwise the reason says what was missing (gpu/cuda-diagnosis.ts), a named
 * `tensorflow-gpu` fails with it, and `auto` logs it and falls through to
 * `tfjs-node`.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { BackendId } from '../../common/contract.js';
import { ConfigError, getErrorMessage } from '../../common/errors.js';
import { describeCudaFindings, findCuda, systemCudaProbe } from './gpu/cuda-diagnosis.js';
import type { Logger } from '../../common/log.js';
import { NATIVE_BACKEND_NAME } from './native/conv2d-backprop-filter-kernel.js';
import { registerNativeKernelFixes } from './native/register-native-kernels.js';
import { sizeTensorFlowThreadPools, TF_THREAD_ENV } from './native/thread-pools.js';
import { registerWasmTrainingKernels, WASM_BACKEND_NAME } from './wasm/register-wasm-training-kernels.js';

/** A backend that can actually be selected (`auto` resolved). */
export type ConcreteBackendId = Exclude<BackendId, 'auto'>;

/** Order `auto` tries backends in. */
export const AUTO_BACKEND_ORDER: readonly ConcreteBackendId[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** npm packages providing the native backends. */
export const NATIVE_BACKEND_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
/** A native backend id. */
type NativeBackendId = keyof typeof NATIVE_BACKEND_PACKAGES;

/** Why `tensorflow-gpu` is skipped when its binding computes on the CPU. */
export const NO_GPU_DEVICE_REASON = 'tfjs-node-gpu loaded but TensorFlow found no CUDA device';

/**
 * libtensorflow's log threshold (0 info, 1 warning, 2 error). Set to
 * {@link DEFAULT_TF_LOG_LEVEL} before loading a native package unless the user
 * chose a value: at level 0 TF prints oneDNN and CPU-feature notices on import.
 */
export const TF_LOG_LEVEL_ENV = 'TF_CPP_MIN_LOG_LEVEL';
export const DEFAULT_TF_LOG_LEVEL = '1';
/**
 * The default for tfjs-node-gpu: errors only. Without a GPU its libtensorflow
 * warns in several lines about each CUDA library it could not open; the
 * rejection reason says the same in one (see {@link NO_GPU_DEVICE_REASON}).
 */
export const DEFAULT_GPU_TF_LOG_LEVEL = '2';

/**
 * Set to `true` before tfjs-node-gpu loads unless the user chose: by default
 * TensorFlow reserves almost all GPU memory in the first process, so a second
 * local worker (`--workers 2`) on the same GPU could not start.
 */
export const TF_GPU_ALLOW_GROWTH_ENV = 'TF_FORCE_GPU_ALLOW_GROWTH';

/** Name both native packages register their backend under. */
const TFJS_NATIVE_BACKEND_NAME = NATIVE_BACKEND_NAME;
const TFJS_CPU_BACKEND_NAME = 'cpu';

/** A backend that was not usable, and why. */
export interface UnavailableBackend {
  readonly name: ConcreteBackendId;
  readonly reason: string;
}

/** The selected backend and the `tf` namespace now running on it. */
export interface BackendInfo {
  readonly name: ConcreteBackendId;
  readonly tf: typeof tf;
  /** Better backends (in `auto` order) that were tried and skipped. */
  readonly unavailable: readonly UnavailableBackend[];
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * Register this project's wasm training kernels. Only benchmarks comparing
   * against the stock wasm kernels turn this off (and it cannot be undone
   * within a process once they are registered).
   * @default true
   */
  readonly wasmTrainingKernels?: boolean;
}

/** Thrown by a probe when its backend cannot be used; the message is the reason. */
class BackendUnavailable extends Error {}

const require = createRequire(import.meta.url);

/** setWasmPaths throws once the backend has initialised, so it is called at most once per process. */
let wasmPathsSet = false;

/**
 * Which native package's backend is registered as `tensorflow`. Both packages
 * use that name and register it once, on their first import, so a probe must
 * know whose binding it would activate.
 */
let nativeOwner: NativeBackendId | undefined;
/** Native packages rejected after loading, with the reason (their import cannot be undone). */
const nativeRejected = new Map<NativeBackendId, string>();

/**
 * Returns {@link NO_GPU_DEVICE_REASON} unless `backend` (a tfjs-node backend
 * instance) reports that its TensorFlow session uses a GPU device.
 */
export function gpuDeviceMissingReason(backend: unknown): string | undefined {
  const usesGpu = typeof backend === 'object' && backend !== null && (backend as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
  return usesGpu ? undefined : NO_GPU_DEVICE_REASON;
}

/** Pool size set from the container's CPU limit before libtensorflow loaded, for the selection log. */
let threadPoolsSizedTo: number | undefined;

function readTextOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Sets {@link TF_LOG_LEVEL_ENV} to `level` unless the user set it; libtensorflow
 * reads it when it loads. Returns a function that puts back the default
 * {@link DEFAULT_TF_LOG_LEVEL} if `level` was ours, for a package loaded later.
 */
function quietTensorFlowLogs(level: string): () => void {
  if (process.env[TF_LOG_LEVEL_ENV] !== undefined) return () => undefined;
  process.env[TF_LOG_LEVEL_ENV] = level;
  return () => {
    if (process.env[TF_LOG_LEVEL_ENV] === level) process.env[TF_LOG_LEVEL_ENV] = DEFAULT_TF_LOG_LEVEL;
  };
}

/** tfjs-node-gpu's deps/lib, where scripts/install-tfjs-node.sh --gpu puts the CUDA libraries. */
function gpuRuntimeDir(): string | undefined {
  try {
    return join(dirname(require.resolve(`${NATIVE_BACKEND_PACKAGES['tensorflow-gpu']}/package.json`)), 'deps', 'lib');
  } catch {
    return undefined;
  }
}

/** {@link NO_GPU_DEVICE_REASON} with what this node has and lacks, in one line. */
export function noGpuDeviceReason(env: NodeJS.ProcessEnv = process.env): string {
  return `${NO_GPU_DEVICE_REASON}: ${describeCudaFindings(findCuda(systemCudaProbe(env), gpuRuntimeDir()))}`;
}

function readInstalledVersion(pkg: string): string {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new BackendUnavailable(`${pkg} is not installed`);
  }
  const parsed = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : 'unknown';
}

/** Switches the engine to `tfName` and runs one op to prove the backend computes. */
async function activate(tfName: string): Promise<void> {
  if (tf.findBackendFactory(tfName) == null) throw new BackendUnavailable(`backend ${tfName} did not register on the @tensorflow/tfjs engine`);
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new BackendUnavailable(`backend ${tfName} failed to initialise`);
  const two = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync()[0]);
  if (two !== 2) throw new BackendUnavailable(`backend ${tfName} computed 1+1=${two}`);
}

async function probeNative(id: NativeBackendId): Promise<void> {
  const rejected = nativeRejected.get(id);
  if (rejected !== undefined) throw new BackendUnavailable(rejected);
  const pkg = NATIVE_BACKEND_PACKAGES[id];
  const version = readInstalledVersion(pkg);
  // A different version bundles its own tfjs-core, whose kernels would not match ours.
  if (version !== tf.version_core) throw new BackendUnavailable(`${pkg}@${version} does not match @tensorflow/tfjs-core@${tf.version_core}`);
  const restoreLogLevel = quietTensorFlowLogs(id === 'tensorflow-gpu' ? DEFAULT_GPU_TF_LOG_LEVEL : DEFAULT_TF_LOG_LEVEL);
  if (id === 'tensorflow-gpu' && process.env[TF_GPU_ALLOW_GROWTH_ENV] === undefined) process.env[TF_GPU_ALLOW_GROWTH_ENV] = 'true';
  // libtensorflow reads the pool sizes once, when the first native package loads; later calls find them set.
  threadPoolsSizedTo ??= sizeTensorFlowThreadPools(process.env, availableParallelism(), readTextOrUndefined);
  try {
    await import(pkg);
  } catch (err) {
    throw new BackendUnavailable(`${pkg} failed to load its native binding: ${getErrorMessage(err).split('\n')[0]}`);
  } finally {
    // The GPU package's quieter default must not carry over to tfjs-node loaded after it.
    restoreLogLevel();
  }
  if (nativeOwner === undefined && tf.findBackendFactory(TFJS_NATIVE_BACKEND_NAME) != null) nativeOwner = id;
  if (nativeOwner !== undefined && nativeOwner !== id) {
    throw new BackendUnavailable(`the ${TFJS_NATIVE_BACKEND_NAME} backend is already provided by ${NATIVE_BACKEND_PACKAGES[nativeOwner]}`);
  }
  // Before the first kernel runs: libtensorflow 2.9.1 corrupts its heap on one conv gradient.
  registerNativeKernelFixes();
  await activate(TFJS_NATIVE_BACKEND_NAME);
  if (id !== 'tensorflow-gpu') return;
  if (gpuDeviceMissingReason(tf.backend()) === undefined) return;
  const noGpu = noGpuDeviceReason();
  // Unregister the CPU-only instance and its kernels so tfjs-node's import can register its own
  // under the same name (tfjs-core would otherwise warn once for each of its ~200 kernels).
  nativeRejected.set(id, noGpu);
  tf.removeBackend(TFJS_NATIVE_BACKEND_NAME);
  for (const k of tf.getKernelsForBackend(TFJS_NATIVE_BACKEND_NAME)) tf.unregisterKernel(k.kernelName, TFJS_NATIVE_BACKEND_NAME);
  nativeOwner = undefined;
  throw new BackendUnavailable(noGpu);
}

async function probeWasm(opts: SelectBackendOptions): Promise<void> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import(WASM_PACKAGE);
  } catch (err) {
    throw new BackendUnavailable(`${WASM_PACKAGE} failed to load: ${getErrorMessage(err)}`);
  }
  if (!wasmPathsSet) {
    // The .wasm binaries sit in the package's dist/; an absolute prefix works from any cwd.
    wasm.setWasmPaths(join(dirname(require.resolve(`${WASM_PACKAGE}/package.json`)), 'dist') + sep);
    wasmPathsSet = true;
  }
  // Node has no SharedArrayBuffer-backed worker pool for emscripten threads here.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (opts.wasmTrainingKernels ?? true) registerWasmTrainingKernels();
  await activate(WASM_BACKEND_NAME);
}

const PROBES: Readonly<Record<ConcreteBackendId, (opts: SelectBackendOptions) => Promise<void>>> = {
  'tensorflow-gpu': () => probeNative('tensorflow-gpu'),
  tensorflow: () => probeNative('tensorflow'),
  wasm: probeWasm,
  cpu: () => activate(TFJS_CPU_BACKEND_NAME),
};

/** Tries one backend; returns the reason it is unusable, or undefined when it is now active. */
async function tryBackend(id: ConcreteBackendId, opts: SelectBackendOptions): Promise<string | undefined> {
  try {
    await PROBES[id](opts);
    return undefined;
  } catch (err) {
    return getErrorMessage(err);
  }
}

/**
 * Selects and activates a backend. A named backend that cannot be used is a
 * {@link ConfigError}; `auto` falls through {@link AUTO_BACKEND_ORDER}.
 * Safe to call repeatedly (imports are cached, kernels register once).
 */
export async function selectBackend(requested: BackendId, log: Logger, opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  const candidates: readonly ConcreteBackendId[] = requested === 'auto' ? AUTO_BACKEND_ORDER : [requested];
  const unavailable: UnavailableBackend[] = [];
  for (const id of candidates) {
    const reason = await tryBackend(id, opts);
    if (reason === undefined) {
      for (const u of unavailable) log.info('Skipped unavailable TensorFlow.js backend', { backend: u.name, reason: u.reason });
      log.info('Selected TensorFlow.js backend', { backend: id, requested, tfjs: tf.version_core });
      if (threadPoolsSizedTo !== undefined && (id === 'tensorflow' || id === 'tensorflow-gpu')) {
        log.info('Sized TensorFlow thread pools to the container CPU limit', { threads: threadPoolsSizedTo, env: `${TF_THREAD_ENV.intraOp}, ${TF_THREAD_ENV.interOp}` });
      }
      return { name: id, tf, unavailable };
    }
    unavailable.push({ name: id, reason });
  }
  const why = unavailable.map((u) => `${u.name}: ${u.reason}`).join('; ');
  throw new ConfigError(requested === 'auto' ? `no TensorFlow.js backend is usable (${why})` : `TensorFlow.js backend ${requested} is unavailable: ${why}`);
}
