/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend that never take the
 * backend's transposed-operand path.
 *
 * The wasm backend sends `a x b` with no transposes (and batch 1) to XNNPACK,
 * but any `transposeA`/`transposeB` to a scalar loop that is 10-70x slower.
 * Dense-layer gradients are exactly those transposed products
 * (`dy x W^T`, `x^T x dy`). Transposing the operand explicitly first (a cheap
 * memory pass) and then taking the fast path wins by far.
 *
 * The transposed copy of a rank-2 `b` (a dense layer's weights in `dy x W^T`)
 * is cached by tensor identity: during the k attack steps of a PGD step the
 * weights do not change, so the copy is made once and XNNPACK, which caches
 * its packed weights per tensor, skips re-packing too.
 */
import type { BatchMatMulAttrs, DataId, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasmBackend, disposeIntermediate, type WasmBackendHandle } from './wasm-backend-handle.js';
import type { WasmPrimitives } from './wasm-primitives.js';

/** Permutation swapping the last two axes of a rank-`rank` tensor. */
export function swapLastTwoAxes(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Cached transposes kept at most; a model has one per dense layer. */
const TRANSPOSE_CACHE_SIZE = 8;

/**
 * Transposed copies of rank-2 tensors, keyed by the source's `dataId`.
 * tfjs tensor data is immutable (a variable update gets a new `dataId`), so an
 * entry is valid while its source still exists in the backend; entries whose
 * source was disposed (or moved to another backend) are freed on the next
 * lookup, and the oldest is evicted past {@link TRANSPOSE_CACHE_SIZE}.
 */
export class TransposeCache {
  private readonly entries = new Map<DataId, TensorInfo>();

  /** The cached transpose of `t` (owned by the cache: never dispose it). */
  get(backend: WasmBackendHandle, prims: WasmPrimitives, t: TensorInfo): TensorInfo {
    this.dropStale(backend);
    const hit = this.entries.get(t.dataId);
    if (hit !== undefined) return hit;
    const tT = prims.transpose(backend, t, [1, 0]);
    this.entries.set(t.dataId, tT);
    if (this.entries.size > TRANSPOSE_CACHE_SIZE) {
      const [oldest, copy] = this.entries.entries().next().value as [DataId, TensorInfo];
      this.entries.delete(oldest);
      disposeIntermediate(backend, copy);
    }
    return tT;
  }

  /** Number of cached copies (tests). */
  get size(): number {
    return this.entries.size;
  }

  private dropStale(backend: WasmBackendHandle): void {
    for (const [src, copy] of this.entries) {
      if (backend.dataIdMap.has(src)) continue;
      this.entries.delete(src);
      disposeIntermediate(backend, copy);
    }
  }
}

/** Returns `t` with its last two axes swapped as a new tensor, or `t` itself when `swap` is false. */
function maybeTranspose(backend: WasmBackendHandle, prims: WasmPrimitives, t: TensorInfo, swap: boolean): TensorInfo {
  return swap ? prims.transpose(backend, t, swapLastTwoAxes(t.shape.length)) : t;
}

/** Runs `body` on the (explicitly transposed) operands and frees the transposed copies it does not cache. */
function withPlainOperands(backend: WasmBackendHandle, prims: WasmPrimitives, cache: TransposeCache, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, body: (a: TensorInfo, b: TensorInfo) => TensorInfo): TensorInfo {
  const a2 = maybeTranspose(backend, prims, a, transposeA);
  const cacheB = transposeB && b.shape.length === 2;
  const b2 = cacheB ? cache.get(backend, prims, b) : maybeTranspose(backend, prims, b, transposeB);
  try {
    return body(a2, b2);
  } finally {
    if (a2 !== a) disposeIntermediate(backend, a2);
    if (b2 !== b && !cacheB) disposeIntermediate(backend, b2);
  }
}

/** `BatchMatMul` kernel: explicit transposes, then the fast path. */
export function createBatchMatMulKernel(prims: WasmPrimitives, cache: TransposeCache = new TransposeCache()): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = asWasmBackend(backend);
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const { a, b } = inputs;
    if (a === undefined || b === undefined) throw new Error('BatchMatMul needs inputs a and b');
    return withPlainOperands(wasm, prims, cache, a, b, transposeA, transposeB, (a2, b2) => prims.matMul(wasm, a2, b2));
  };
}

/** `_FusedMatMul` kernel: explicit transposes, then the backend's fused fast path. */
export function createFusedMatMulKernel(prims: WasmPrimitives, cache: TransposeCache = new TransposeCache()): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = asWasmBackend(backend);
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const { a, b } = inputs;
    if (a === undefined || b === undefined || attrs === undefined) throw new Error('_FusedMatMul needs inputs a and b');
    return withPlainOperands(wasm, prims, cache, a, b, transposeA, transposeB, (a2, b2) => prims.fusedMatMul(wasm, { ...inputs, a: a2, b: b2 }, attrs));
  };
}
