/**
 * A cheaper `Step` for the native `tensorflow` backend. tfjs differentiates
 * ReLU as `dy * step(x)`, so every ReLU in a model runs `Step` once per
 * backward pass. tfjs-node builds it from six full-size TF ops (IsNan,
 * Greater, Fill twice, Select and a scalar): in a PGD-10 step of the small
 * CNN that was about a quarter of the native step time.
 *
 * For `alpha` 0 (ReLU) `Sign(Relu(x))` is the same function in two ops:
 * 1 where x > 0, 0 where x <= 0 (and where TF flushes a denormal to zero, as
 * tfjs-node's own Step does), NaN where x is NaN. Other `alpha` values and
 * non-float inputs go to tfjs-node's kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { DatError } from '../../util/errors.js';
import { NATIVE_BACKEND_NAME } from './conv2d-backprop-filter-kernel.js';

/** What the kernel needs from the backend: releasing the intermediate `Relu` output. */
interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

function hasDisposeData(backend: unknown): backend is DisposingBackend {
  return typeof backend === 'object' && backend !== null && typeof (backend as Partial<DisposingBackend>).disposeData === 'function';
}

/** Builds the kernel from tfjs-node's `Step` (fallback), `Relu` and `Sign` kernels. */
export function createNativeStepKernel(original: KernelFunc, relu: KernelFunc, sign: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const alpha = args.attrs?.alpha ?? 0;
    if (alpha !== 0 || x.dtype !== 'float32') return original(args);
    if (!hasDisposeData(args.backend)) throw new DatError('Step: the tensorflow backend cannot dispose intermediate tensors', { retryable: false });
    const positive = relu({ inputs: { x }, backend: args.backend, attrs: {} }) as TensorInfo;
    try {
      return sign({ inputs: { x: positive }, backend: args.backend, attrs: {} });
    } finally {
      args.backend.disposeData(positive.dataId);
    }
  };
}

/** The kernel config to register on the `tensorflow` backend. */
export function nativeStepConfig(original: KernelFunc, relu: KernelFunc, sign: KernelFunc): KernelConfig {
  return { kernelName: 'Step', backendName: NATIVE_BACKEND_NAME, kernelFunc: createNativeStepKernel(original, relu, sign) };
}
