/**
 * `MaxPoolGrad` for the wasm backend. The backend's own kernel drops the
 * gradient of windows whose values are all negative (it is only right when the
 * pooled input is non-negative, e.g. right after a ReLU), so it is replaced
 * with this JS loop over the heap that routes each `dy` to the first maximum of
 * its window in row-major order, as the cpu backend does.
 */
import { backend_util, type KernelFunc, type MaxPoolGradAttrs } from '@tensorflow/tfjs';
import { asWasmBackend, heapF32 } from './wasm-backend-handle.js';

/** `MaxPoolGrad` kernel (inputs `dy`, `input`, `output`; NHWC). */
export function createMaxPoolGradKernel(): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = asWasmBackend(backend);
    const a = attrs as unknown as MaxPoolGradAttrs;
    const { dy, input } = inputs;
    if (dy === undefined || input === undefined) throw new Error('MaxPoolGrad needs inputs dy and input');
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const dxInfo = wasm.makeOutput([...input.shape], 'float32');
    const x = heapF32(wasm, input);
    const g = heapF32(wasm, dy);
    const dx = heapF32(wasm, dxInfo);
    dx.fill(0);
    const { inHeight: h, inWidth: w, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
    const rowStride = w * c;
    let o = 0;
    for (let n = 0; n < info.batchSize; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const ih0 = oh * strideHeight - info.padInfo.top;
        // The window's rows and columns inside the image, computed once per output pixel.
        const frLo = Math.max(0, Math.ceil(-ih0 / dilationHeight)) * dilationHeight;
        const frHi = Math.min(info.effectiveFilterHeight, h - ih0);
        for (let ow = 0; ow < outWidth; ow++, o += c) {
          const iw0 = ow * strideWidth - info.padInfo.left;
          const fcLo = Math.max(0, Math.ceil(-iw0 / dilationWidth)) * dilationWidth;
          const fcHi = Math.min(info.effectiveFilterWidth, w - iw0);
          const pixel0 = ((n * h + ih0) * w + iw0) * c;
          // Per channel, the max stays in registers; the first maximum in row-major order wins.
          for (let ci = 0; ci < c; ci++) {
            let best = -Infinity;
            let at = -1;
            for (let fr = frLo; fr < frHi; fr += dilationHeight) {
              const row = pixel0 + fr * rowStride + ci;
              for (let fc = fcLo; fc < fcHi; fc += dilationWidth) {
                const idx = row + fc * c;
                const v = x[idx];
                if (v > best) {
                  best = v;
                  at = idx;
                }
              }
            }
            if (at >= 0) dx[at] += g[o + ci];
          }
        }
      }
    }
    return dxInfo;
  };
}
