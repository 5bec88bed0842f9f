/**
 * A typed view of the few internals of the TensorFlow.js wasm backend that
 * custom kernels need: allocating outputs on the wasm heap, reading tensor
 * memory in place, and freeing intermediates.
 *
 * The wasm backend's class is not exported with these members typed, so the
 * kernels see it through this structural interface, checked once at runtime.
 */
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs';

/** What the wasm backend keeps per tensor (`BackendWasm.dataIdMap` values). */
interface WasmTensorData {
  readonly id: number;
  readonly memoryOffset: number;
}

/** The members of `BackendWasm` the kernels use. */
export interface WasmBackendHandle {
  readonly wasm: object;
  readonly dataIdMap: {
    get(dataId: DataId): WasmTensorData | undefined;
    /** Presence test; unlike `get`, never asks the engine to move data in from another backend. */
    has(dataId: DataId): boolean;
  };
  /** Allocates an (uninitialised) output on the wasm heap. */
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** A view of a tensor's heap memory; invalidated by any later allocation (the heap may grow). */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: DataId, force?: boolean): boolean;
  /** Adds a reference to a tensor's memory (shared by another tensor header). */
  incRef(dataId: DataId): void;
}

/** Narrows the `backend` a kernel receives to the wasm backend, or throws. */
export function asWasmBackend(backend: unknown): WasmBackendHandle {
  const b = backend as Partial<WasmBackendHandle> | null;
  if (b == null || b.wasm == null || b.dataIdMap == null || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.incRef !== 'function') {
    throw new Error('kernel registered for the wasm backend was called with another backend');
  }
  return b as WasmBackendHandle;
}

/**
 * A float32 view of a tensor's heap memory. Take views only after the last
 * allocation of a kernel: allocating may grow (and so detach) the heap.
 */
export function heapF32(backend: WasmBackendHandle, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Frees an intermediate this kernel allocated (never an input or the output). */
export function disposeIntermediate(backend: WasmBackendHandle, info: TensorInfo): void {
  backend.disposeData(info.dataId);
}
