/**
 * `Identity` for the wasm backend that shares the input's memory (a ref-count
 * increment, as the cpu and webgl backends and wasm's own `Reshape` do)
 * instead of copying it.
 *
 * The engine clones every tensor it saves for the backward pass; on stock wasm
 * each clone is a full copy (hundreds per PGD step). Sharing also keeps a
 * saved weight's `dataId` equal to its variable's, so the transposed-weight
 * cache in matmul-kernels.ts hits across attack steps. Safe because tfjs
 * tensor data is never mutated in place.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasmBackend } from './wasm-backend-handle.js';

/** `Identity` kernel; strings (not stored on the heap) go to the original kernel. */
export function createIdentityKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x;
    if (x === undefined) throw new Error('Identity needs input x');
    if (x.dtype === 'string') return original(args);
    asWasmBackend(args.backend).incRef(x.dataId);
    const out: TensorInfo = { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    return out;
  };
}
