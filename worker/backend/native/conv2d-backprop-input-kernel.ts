/**
 * `Conv2DBackpropInput` for the native `tensorflow` backend that sends
 * convolutions with few input channels to TensorFlow's Eigen kernel instead
 * of oneDNN.
 *
 * An attack differentiates the loss with respect to the image, so every
 * attack step runs `Conv2DBackpropInput` of the model's first convolution,
 * whose input has 1 (MNIST) or 3 (CIFAR) channels. libtensorflow 2.9.1's
 * oneDNN kernel is slow there: measured at batch 128 on this machine,
 * small-cnn's 4x4/2 1→16 conv took 2.0 ms against 0.8 ms on Eigen,
 * madry-cnn's 5x5 1→32 conv 22.8 ms against 5.4 ms, and the ResNet stem's
 * 3x3 3→32 12.6 ms against 6.0 ms. From 16 input channels on, oneDNN is
 * 1.4–2.6x faster than Eigen, so only small inputs are rerouted.
 *
 * TF's eager oneDNN rewrite skips convolutions whose `padding` is
 * `EXPLICIT`, so the kernel passes the same padding as explicit numbers
 * (top/bottom/left/right exactly as tfjs computes them for 'same' or
 * 'valid'): the same function, computed by Eigen. On a GPU device
 * (tfjs-node-gpu registers under the same backend name) the call is left
 * to tfjs-node's kernel.
 */
import { backend_util, tensor1d, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { DatError } from '../../../common/errors.js';
import { NATIVE_BACKEND_NAME } from './conv2d-backprop-filter-kernel.js';

/** Up to this many input channels the Eigen kernel is used (1 and 3 measured faster, 16 slower). */
export const MAX_EIGEN_INPUT_CHANNELS = 4;

/** One attribute of a libtensorflow eager op, as tfjs-node's binding takes it. */
interface OpAttr {
  readonly name: string;
  readonly type: number;
  readonly value: unknown;
}

/** What the kernel needs from tfjs-node's NodeJSKernelBackend. */
interface NativeExecutor {
  /** True when tfjs-node-gpu computes on a GPU, where oneDNN is not involved. */
  readonly isUsingGpuDevice?: boolean;
  readonly binding: { readonly TF_ATTR_TYPE: number; readonly TF_ATTR_INT: number; readonly TF_ATTR_STRING: number; readonly TF_ATTR_BOOL: number; readonly TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): TensorInfo;
}

function isNativeExecutor(backend: unknown): backend is NativeExecutor {
  if (typeof backend !== 'object' || backend === null) return false;
  const b = backend as Partial<NativeExecutor>;
  return typeof b.executeSingleOutput === 'function' && typeof b.binding === 'object' && b.binding !== null;
}

/** Explicit padding [top, bottom, left, right] of a rerouted call, or undefined to use tfjs-node's kernel. */
export function eigenBackpropInputPadding(attrs: NamedAttrMap, filterShape: readonly number[]): [number, number, number, number] | undefined {
  const inputShape = attrs.inputShape as [number, number, number, number] | undefined;
  if (inputShape === undefined || inputShape.length !== 4 || filterShape.length !== 4) return undefined;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return undefined;
  // Numeric and explicit padding are rejected by tfjs-node's own kernel, with its message.
  const pad: unknown = attrs.pad;
  if (pad !== 'same' && pad !== 'valid') return undefined;
  if (attrs.dimRoundingMode !== undefined && attrs.dimRoundingMode !== null) return undefined;
  if (inputShape[3] > MAX_EIGEN_INPUT_CHANNELS) return undefined;
  const strides = attrs.strides as number | [number, number];
  const info = backend_util.computeConv2DInfo(inputShape, filterShape as [number, number, number, number], strides, 1, pad, undefined, false, 'channelsLast');
  const p = info.padInfo;
  return [p.top, p.bottom, p.left, p.right];
}

/** Builds the kernel; `original` is tfjs-node's `Conv2DBackpropInput`, used for every other configuration. */
export function createNativeConv2DBackpropInputKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    const pad = eigenBackpropInputPadding(attrs, filter.shape);
    if (pad === undefined) return original(args);
    const backend = args.backend;
    if (!isNativeExecutor(backend)) throw new DatError('Conv2DBackpropInput: the tensorflow backend does not expose executeSingleOutput', { retryable: false });
    // The reason for rerouting is oneDNN on the CPU; on a GPU (never tried here) keep TF's choice.
    if (backend.isUsingGpuDevice === true) return original(args);
    const strides = attrs.strides as number | [number, number];
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    const b = backend.binding;
    const opAttrs: OpAttr[] = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: 'strides', type: b.TF_ATTR_INT, value: [1, sh, sw, 1] },
      { name: 'padding', type: b.TF_ATTR_STRING, value: 'EXPLICIT' },
      { name: 'explicit_paddings', type: b.TF_ATTR_INT, value: [0, 0, pad[0], pad[1], pad[2], pad[3], 0, 0] },
      { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
      { name: 'use_cudnn_on_gpu', type: b.TF_ATTR_BOOL, value: true },
      { name: 'dilations', type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
    ];
    // TF takes the input size as an int32 tensor (as tfjs-node's own kernel passes it).
    const inputSizes = tensor1d(attrs.inputShape as number[], 'int32');
    try {
      return backend.executeSingleOutput('Conv2DBackpropInput', opAttrs, [inputSizes, filter, dy]);
    } finally {
      inputSizes.dispose();
    }
  };
}

/** The kernel config to register on the `tensorflow` backend. */
export function nativeConv2DBackpropInputConfig(original: KernelFunc): KernelConfig {
  return { kernelName: 'Conv2DBackpropInput', backendName: NATIVE_BACKEND_NAME, kernelFunc: createNativeConv2DBackpropInputKernel(original) };
}
