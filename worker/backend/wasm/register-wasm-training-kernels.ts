/**
 * Installs this project's training kernels on the TensorFlow.js wasm backend:
 * the ones it lacks (`Conv2DBackpropFilter`, `UnsortedSegmentSum`), faster
 * replacements for ones it has (`Conv2DBackpropInput`, transposed
 * `BatchMatMul`/`_FusedMatMul`, a copy-free `Identity`, a block-copy
 * `Tile`), and a correct one for one it gets wrong (`MaxPoolGrad`).
 *
 * Must run after `@tensorflow/tfjs-backend-wasm` is imported (it registers the
 * originals) and may run before or after the backend initialises: each
 * override keeps the original's `setupFunc`, which the engine calls on
 * initialisation and which the original kernel the override delegates to needs.
 * Idempotent: a second call (from any copy of this module) changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { createConv2DBackpropFilterKernel, createConv2DBackpropInputKernel } from './conv2d-kernels.js';
import { createIdentityKernel } from './identity-kernel.js';
import { createMaxPoolGradKernel } from './pool-kernels.js';
import { createTileKernel } from './tile-kernel.js';
import { createUnsortedSegmentSumKernel } from './segment-kernels.js';
import { createBatchMatMulKernel, createFusedMatMulKernel, TransposeCache } from './matmul-kernels.js';
import { buildWasmPrimitives, type OriginalWasmKernels, type WasmPrimitives } from './wasm-primitives.js';

/** Name of the wasm backend in the TensorFlow.js registry. */
export const WASM_BACKEND_NAME = 'wasm';

/** Kernel names this module registers on the wasm backend. */
export const WASM_TRAINING_KERNELS = {
  batchMatMul: 'BatchMatMul',
  fusedMatMul: '_FusedMatMul',
  conv2DBackpropFilter: 'Conv2DBackpropFilter',
  conv2DBackpropInput: 'Conv2DBackpropInput',
  maxPoolGrad: 'MaxPoolGrad',
  unsortedSegmentSum: 'UnsortedSegmentSum',
  identity: 'Identity',
  tile: 'Tile',
} as const;

/**
 * Marks kernel functions this module registered. A global symbol (not a
 * module-local set) so a second copy of this module in the process (e.g. the
 * compiled and the tsx-run source) sees them too and does not wrap them again.
 */
const OURS = Symbol.for('dat-operator.wasm-training-kernel');

function isOurs(fn: KernelFunc | undefined): boolean {
  return fn !== undefined && (fn as KernelFunc & { [OURS]?: true })[OURS] === true;
}

function requireOriginal(name: string): KernelFunc {
  const cfg = tf.getKernel(name, WASM_BACKEND_NAME);
  if (cfg === undefined) throw new Error(`wasm backend kernel ${name} is not registered: import @tensorflow/tfjs-backend-wasm first`);
  return cfg.kernelFunc;
}

/** Registers `kernelFunc` for `kernelName` on wasm, replacing (and keeping the setup of) any existing one. */
function override(kernelName: string, kernelFunc: KernelFunc): void {
  const existing: KernelConfig | undefined = tf.getKernel(kernelName, WASM_BACKEND_NAME);
  if (existing !== undefined) tf.unregisterKernel(kernelName, WASM_BACKEND_NAME);
  Object.defineProperty(kernelFunc, OURS, { value: true });
  tf.registerKernel({
    kernelName,
    backendName: WASM_BACKEND_NAME,
    kernelFunc,
    ...(existing?.setupFunc === undefined ? {} : { setupFunc: existing.setupFunc }),
    ...(existing?.disposeFunc === undefined ? {} : { disposeFunc: existing.disposeFunc }),
  });
}

/** Builds the kernel table (pure: registers nothing). */
export function buildWasmTrainingKernels(prims: WasmPrimitives, orig: OriginalWasmKernels): ReadonlyMap<string, KernelFunc> {
  const k = WASM_TRAINING_KERNELS;
  const transposes = new TransposeCache();
  return new Map<string, KernelFunc>([
    [k.batchMatMul, createBatchMatMulKernel(prims, transposes)],
    [k.fusedMatMul, createFusedMatMulKernel(prims, transposes)],
    [k.conv2DBackpropFilter, createConv2DBackpropFilterKernel(prims)],
    [k.conv2DBackpropInput, createConv2DBackpropInputKernel(prims)],
    [k.maxPoolGrad, createMaxPoolGradKernel()],
    [k.unsortedSegmentSum, createUnsortedSegmentSumKernel()],
    [k.identity, createIdentityKernel(orig.identity)],
    [k.tile, createTileKernel(orig.tile)],
  ]);
}

/**
 * Registers the training kernels on the wasm backend once per process (an
 * override of ours on `BatchMatMul` means they are installed) and returns their
 * names.
 */
export function registerWasmTrainingKernels(): readonly string[] {
  const names = Object.values(WASM_TRAINING_KERNELS);
  if (isOurs(tf.getKernel(WASM_TRAINING_KERNELS.batchMatMul, WASM_BACKEND_NAME)?.kernelFunc)) return names;
  const orig: OriginalWasmKernels = {
    batchMatMul: requireOriginal('BatchMatMul'),
    fusedMatMul: requireOriginal('_FusedMatMul'),
    transpose: requireOriginal('Transpose'),
    conv2d: requireOriginal('Conv2D'),
    identity: requireOriginal('Identity'),
    tile: requireOriginal('Tile'),
  };
  const kernels = buildWasmTrainingKernels(buildWasmPrimitives(orig), orig);
  for (const [name, fn] of kernels) override(name, fn);
  return names;
}
