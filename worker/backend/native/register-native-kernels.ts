/**
 * Installs this project's kernels on tfjs-node's `tensorflow` backend: a fix
 * for a libtensorflow bug (conv2d-backprop-filter-kernel.ts), a faster input
 * gradient for first-layer convolutions (conv2d-backprop-input-kernel.ts) and
 * a faster ReLU gradient (step-kernel.ts). Must run after a native package
 * was imported (it registers the originals). Idempotent, also across copies
 * of this module in one process.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs';
import { DatError } from '../../../common/errors.js';
import { NATIVE_BACKEND_NAME, nativeConv2DBackpropFilterConfig } from './conv2d-backprop-filter-kernel.js';
import { nativeConv2DBackpropInputConfig } from './conv2d-backprop-input-kernel.js';
import { nativeStepConfig } from './step-kernel.js';

/** Kernel names this module replaces on the `tensorflow` backend. */
export const NATIVE_KERNEL_FIXES = { conv2DBackpropFilter: 'Conv2DBackpropFilter', conv2DBackpropInput: 'Conv2DBackpropInput', step: 'Step' } as const;

/** Marks kernel functions registered here (a global symbol: see register-wasm-training-kernels.ts). */
const OURS = Symbol.for('dat-operator.native-kernel-fix');

function isOurs(fn: KernelFunc | undefined): boolean {
  return fn !== undefined && (fn as KernelFunc & { [OURS]?: true })[OURS] === true;
}

function requireOriginal(name: string): KernelFunc {
  const cfg = tf.getKernel(name, NATIVE_BACKEND_NAME);
  if (cfg === undefined) throw new DatError(`tensorflow backend kernel ${name} is not registered: import @tensorflow/tfjs-node first`, { retryable: false });
  return cfg.kernelFunc;
}

/**
 * Replaces the native kernels once per process (ours on `Conv2DBackpropFilter`
 * means all are installed, as they are registered together); returns their names.
 */
export function registerNativeKernelFixes(): readonly string[] {
  const names = Object.values(NATIVE_KERNEL_FIXES);
  const current = tf.getKernel(NATIVE_KERNEL_FIXES.conv2DBackpropFilter, NATIVE_BACKEND_NAME);
  if (isOurs(current?.kernelFunc)) return names;
  const configs = [
    nativeConv2DBackpropFilterConfig(requireOriginal('Conv2DBackpropFilter'), requireOriginal('StridedSlice')),
    nativeConv2DBackpropInputConfig(requireOriginal('Conv2DBackpropInput')),
    nativeStepConfig({
      original: requireOriginal('Step'),
      relu: requireOriginal('Relu'),
      minimum: requireOriginal('Minimum'),
      ceil: requireOriginal('Ceil'),
      abs: requireOriginal('Abs'),
    }),
  ];
  for (const config of configs) {
    Object.defineProperty(config.kernelFunc, OURS, { value: true });
    tf.unregisterKernel(config.kernelName, NATIVE_BACKEND_NAME);
    tf.registerKernel(config);
  }
  return names;
}
