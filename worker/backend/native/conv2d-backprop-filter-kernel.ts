/**
 * `Conv2DBackpropFilter` for the native `tensorflow` backend that avoids a
 * heap-corruption bug in libtensorflow 2.9.1's oneDNN kernel.
 *
 * With a 1x1 filter and a stride above 1 (the pre-activation ResNet's
 * shortcut projections), TF 2.9.1's oneDNN `Conv2DBackpropFilter` writes
 * outside its buffers once the input is about 16x16 or larger: glibc aborts
 * the process with "free(): invalid next size" or "double free or
 * corruption", and smaller inputs may corrupt memory silently. With
 * `TF_ENABLE_ONEDNN_OPTS=0` (Eigen kernels) the same call is correct.
 *
 * A strided 1x1 convolution only reads the input pixels on the stride grid,
 * and with a 1x1 filter neither 'same' nor 'valid' padding adds any, so its
 * filter gradient equals the stride-1 gradient of the subsampled input:
 * `dW = Conv2DBackpropFilter(x[:, ::sh, ::sw, :], dy, stride 1, 'valid')`.
 * That runs the unaffected stride-1 kernel. Every other configuration goes
 * to tfjs-node's own kernel unchanged.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { DatError } from '../../../common/errors.js';

/** Name of tfjs-node's backend in the TensorFlow.js registry. */
export const NATIVE_BACKEND_NAME = 'tensorflow';

/** A backend that can release a kernel's intermediate output (tfjs-node's NodeJSKernelBackend can). */
interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

function hasDisposeData(backend: unknown): backend is DisposingBackend {
  return typeof backend === 'object' && backend !== null && typeof (backend as Partial<DisposingBackend>).disposeData === 'function';
}

/** Stride of a conv's `strides` attribute as [height, width]. */
function stridePair(strides: unknown): [number, number] {
  if (typeof strides === 'number') return [strides, strides];
  if (Array.isArray(strides) && strides.length === 2 && strides.every((s) => typeof s === 'number')) return [strides[0] as number, strides[1] as number];
  throw new DatError(`Conv2DBackpropFilter: unexpected strides attribute ${JSON.stringify(strides)}`, { retryable: false });
}

/**
 * True for the configurations the workaround handles: NHWC, 1x1 filter, a
 * stride above 1 on either axis, and no explicit padding (tfjs-node rejects
 * numeric padding itself, with its own message).
 */
export function needsStridedPointwiseWorkaround(attrs: NamedAttrMap): boolean {
  const filterShape = attrs.filterShape as readonly number[] | undefined;
  if (filterShape === undefined || filterShape[0] !== 1 || filterShape[1] !== 1) return false;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return false;
  if (attrs.pad !== 'same' && attrs.pad !== 'valid') return false;
  const [sh, sw] = stridePair(attrs.strides);
  return sh > 1 || sw > 1;
}

/**
 * Builds the kernel. `original` is tfjs-node's `Conv2DBackpropFilter`;
 * `stridedSlice` its `StridedSlice` (both return backend-owned TensorInfos).
 */
export function createNativeConv2DBackpropFilterKernel(original: KernelFunc, stridedSlice: KernelFunc): KernelFunc {
  return (args) => {
    if (!needsStridedPointwiseWorkaround(args.attrs ?? {})) return original(args);
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const [sh, sw] = stridePair(args.attrs?.strides);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const [, outH, outW] = dy.shape as [number, number, number, number];
    if (!hasDisposeData(args.backend)) throw new DatError('Conv2DBackpropFilter: the tensorflow backend cannot dispose intermediate tensors', { retryable: false });
    // Pixels (i*sh, j*sw) for i < outH, j < outW: exactly the ones the forward convolution read.
    const sub = stridedSlice({
      inputs: { x },
      backend: args.backend,
      attrs: { begin: [0, 0, 0, 0], end: [n, Math.min(h, (outH - 1) * sh + 1), Math.min(w, (outW - 1) * sw + 1), c], strides: [1, sh, sw, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
    }) as TensorInfo;
    try {
      return original({ inputs: { x: sub, dy }, backend: args.backend, attrs: { ...args.attrs, strides: [1, 1], pad: 'valid' } });
    } finally {
      args.backend.disposeData(sub.dataId);
    }
  };
}

/** The kernel config to register on the `tensorflow` backend. */
export function nativeConv2DBackpropFilterConfig(original: KernelFunc, stridedSlice: KernelFunc): KernelConfig {
  return { kernelName: 'Conv2DBackpropFilter', backendName: NATIVE_BACKEND_NAME, kernelFunc: createNativeConv2DBackpropFilterKernel(original, stridedSlice) };
}
