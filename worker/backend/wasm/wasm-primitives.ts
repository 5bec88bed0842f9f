/**
 * The wasm backend's own fast kernels, captured before this project's
 * overrides replace them, so the overrides can delegate to them without
 * recursion and without going through the engine (no tape, no profiling).
 */
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendHandle } from './wasm-backend-handle.js';

/** Matrix operations on wasm-heap tensors; every result is a new tensor the caller owns. */
export interface WasmPrimitives {
  /** `a x b` with no transposes: the XNNPACK path (rank 2 or batch 1). */
  matMul(backend: WasmBackendHandle, a: TensorInfo, b: TensorInfo): TensorInfo;
  /** `_FusedMatMul` (`activation(a x b + bias)`, XNNPACK with a fused epilogue); the transpose attrs are forced off. */
  fusedMatMul(backend: WasmBackendHandle, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo;
  transpose(backend: WasmBackendHandle, x: TensorInfo, perm: number[]): TensorInfo;
  /** Stride-1, dilation-1 NHWC `Conv2D` (XNNPACK) with explicit `[top, bottom, left, right]` padding. */
  conv2d(backend: WasmBackendHandle, x: TensorInfo, filter: TensorInfo, pad: readonly [number, number, number, number]): TensorInfo;
}

/** The original kernel functions the primitives call. */
export interface OriginalWasmKernels {
  readonly batchMatMul: KernelFunc;
  readonly fusedMatMul: KernelFunc;
  readonly transpose: KernelFunc;
  readonly conv2d: KernelFunc;
  readonly identity: KernelFunc;
  readonly tile: KernelFunc;
}

function single(out: TensorInfo | TensorInfo[]): TensorInfo {
  if (Array.isArray(out)) throw new Error('expected a single-output kernel');
  return out;
}

/** Builds the primitives over the captured original kernels. */
export function buildWasmPrimitives(orig: OriginalWasmKernels): WasmPrimitives {
  return {
    matMul: (backend, a, b) => single(orig.batchMatMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } })),
    fusedMatMul: (backend, inputs, attrs) => single(orig.fusedMatMul({ inputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } })),
    transpose: (backend, x, perm) => single(orig.transpose({ inputs: { x }, backend, attrs: { perm } })),
    conv2d: (backend, x, filter, [top, bottom, left, right]) =>
      single(
        orig.conv2d({
          inputs: { x, filter },
          backend,
          // ExplicitPadding is number[][], which NamedAttrMap accepts as a nested array.
          attrs: { strides: 1, dilations: 1, dataFormat: 'NHWC', pad: [[0, 0], [top, bottom], [left, right], [0, 0]] },
        }),
      ),
  };
}

/** A tensor header sharing `t`'s memory under another shape (the wasm Reshape kernel does the same, minus the ref count the caller does not need here). */
export function viewAs(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}
