/**
 * `UnsortedSegmentSum` for the wasm backend, which lacks it. It is the
 * gradient of `tf.gather` (e.g. picking per-example logits by label), so any
 * loss or attack that gathers needs it to train on wasm.
 */
import { util, type KernelFunc, type UnsortedSegmentSumAttrs } from '@tensorflow/tfjs';
import { asWasmBackend } from './wasm-backend-handle.js';

/** `UnsortedSegmentSum` kernel: `out[ids[i], ...] += x[i, ...]`; ids outside [0, numSegments) are dropped, as in TensorFlow. */
export function createUnsortedSegmentSumKernel(): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = asWasmBackend(backend);
    const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
    const { x, segmentIds } = inputs;
    if (x === undefined || segmentIds === undefined) throw new Error('UnsortedSegmentSum needs inputs x and segmentIds');
    if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, got ${x.dtype}`);
    const rows = util.sizeFromShape(segmentIds.shape);
    const inner = util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
    const outInfo = wasm.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
    // Views only after the allocation above (it may grow the heap).
    const src = wasm.typedArrayFromHeap(x);
    const ids = wasm.typedArrayFromHeap(segmentIds);
    const out = wasm.typedArrayFromHeap(outInfo);
    out.fill(0);
    for (let i = 0; i < rows; i++) {
      const id = ids[i];
      if (id < 0 || id >= numSegments) continue;
      const s = i * inner;
      const d = id * inner;
      for (let j = 0; j < inner; j++) out[d + j] += src[s + j];
    }
    return outInfo;
  };
}
