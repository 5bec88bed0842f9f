/**
 * `Tile` for the wasm backend as block copies (memmove) on the heap.
 *
 * The batch-norm gradient broadcasts per-channel statistics with `tile`
 * (`[1, 1, 1, C]` to `[N, H, W, C]`); the stock wasm kernel computes an index
 * per element (~70 ns each), which made `Tile` a third of a ResNet step.
 * Here each axis, innermost first, writes one block and then doubles it with
 * `copyWithin` until the repetitions are filled.
 */
import { util, type KernelFunc, type TensorInfo, type TileAttrs } from '@tensorflow/tfjs';
import { asWasmBackend } from './wasm-backend-handle.js';

/** A whole-heap view of one element type, so `copyWithin` can move data between tensors. */
type HeapView = Float32Array | Int32Array | Uint8Array;

/**
 * Tiles `x` (elements at `src` of `heap`, shape `shape`) into `dst` (shape
 * `shape[i] * reps[i]`), pure block copies. Exported for unit tests.
 */
export function tileInto(heap: HeapView, src: number, dst: number, shape: readonly number[], reps: readonly number[]): void {
  const rank = shape.length;
  // outBlock[a]: elements of one output block spanning axes a..rank-1; inBlock likewise for the input.
  const outBlock = new Array<number>(rank + 1).fill(1);
  const inBlock = new Array<number>(rank + 1).fill(1);
  for (let a = rank - 1; a >= 0; a--) {
    outBlock[a] = outBlock[a + 1] * shape[a] * reps[a];
    inBlock[a] = inBlock[a + 1] * shape[a];
  }
  const fill = (axis: number, s: number, d: number): void => {
    if (axis === rank) {
      heap[d] = heap[s];
      return;
    }
    const once = shape[axis] * outBlock[axis + 1];
    if (axis === rank - 1 || inBlock[axis + 1] === outBlock[axis + 1]) {
      // The inner axes are not repeated: one contiguous copy of this axis' span.
      heap.copyWithin(d, s, s + shape[axis] * inBlock[axis + 1]);
    } else {
      for (let j = 0; j < shape[axis]; j++) fill(axis + 1, s + j * inBlock[axis + 1], d + j * outBlock[axis + 1]);
    }
    // Repeat the first span reps[axis] times by doubling.
    const total = once * reps[axis];
    for (let filled = once; filled < total; filled *= 2) heap.copyWithin(d + filled, d, d + Math.min(filled, total - filled));
  };
  fill(0, src, dst);
}

/** `Tile` kernel; strings go to the original kernel. */
export function createTileKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    if (x === undefined) throw new Error('Tile needs input x');
    if (x.dtype === 'string' || x.dtype === 'complex64') return original(args);
    const wasm = asWasmBackend(args.backend);
    const { reps } = args.attrs as unknown as TileAttrs;
    const outShape = x.shape.map((d, i) => d * (reps[i] ?? 1));
    const out: TensorInfo = wasm.makeOutput(outShape, x.dtype);
    if (util.sizeFromShape(outShape) === 0) return out;
    // Views only after the allocation (it may grow the heap).
    const xv = wasm.typedArrayFromHeap(x);
    const ov = wasm.typedArrayFromHeap(out);
    const heap: HeapView = ov instanceof Float32Array ? new Float32Array(ov.buffer) : ov instanceof Int32Array ? new Int32Array(ov.buffer) : new Uint8Array(ov.buffer);
    tileInto(heap, xv.byteOffset / xv.BYTES_PER_ELEMENT, ov.byteOffset / ov.BYTES_PER_ELEMENT, x.shape, reps);
    return out;
  };
}
