/**
 * Pure im2col / col2im on NHWC float32 buffers: the data movement that turns
 * a 2-D convolution and its gradients into one matrix product each.
 *
 * Patch column order is `(kh, kw, c)`, so a `[kH, kW, inC, outC]` filter read
 * as a `[K, outC]` matrix (K = kH*kW*inC) lines up with a patch row without
 * any copy.
 */
import type { backend_util } from '@tensorflow/tfjs';

/** Geometry of one NHWC 2-D convolution (forward shape; the gradients share it). */
export interface ConvGeometry {
  readonly batch: number;
  readonly inH: number;
  readonly inW: number;
  readonly inC: number;
  readonly outH: number;
  readonly outW: number;
  readonly outC: number;
  readonly kH: number;
  readonly kW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly padTop: number;
  readonly padLeft: number;
}

/** Builds the geometry from tfjs' own shape computation (so padding rules match every other backend). */
export function buildConvGeometry(info: backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Rows of the patch matrix: M = batch*outH*outW. */
export function patchRows(g: ConvGeometry): number {
  return g.batch * g.outH * g.outW;
}

/** Columns of the patch matrix: K = kH*kW*inC. */
export function patchCols(g: ConvGeometry): number {
  return g.kH * g.kW * g.inC;
}

/** True when the patch matrix is the input itself (1x1 filter, stride 1, no padding): no im2col needed. */
export function isPointwiseIdentity(g: ConvGeometry): boolean {
  return g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0 && g.outH === g.inH && g.outW === g.inW;
}

/** Writes the `[M, K]` patch matrix of `x` into `cols` (row m = one output pixel). */
export function im2colRows(x: Float32Array, g: ConvGeometry, cols: Float32Array): void {
  const { inH, inW, inC: c, kH, kW } = g;
  const kwc = kW * c;
  let o = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      const ih0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < g.outW; ow++) {
        const iw0 = ow * g.strideW - g.padLeft;
        for (let kh = 0; kh < kH; kh++) {
          const ih = ih0 + kh * g.dilationH;
          if (ih < 0 || ih >= inH) {
            cols.fill(0, o, o + kwc);
            o += kwc;
            continue;
          }
          const rowBase = (n * inH + ih) * inW;
          for (let kw = 0; kw < kW; kw++) {
            const iw = iw0 + kw * g.dilationW;
            if (iw < 0 || iw >= inW) {
              for (let ci = 0; ci < c; ci++) cols[o++] = 0;
            } else {
              let s = (rowBase + iw) * c;
              for (let ci = 0; ci < c; ci++) cols[o++] = x[s++];
            }
          }
        }
      }
    }
  }
}

/**
 * Writes the transposed `[K, M]` patch matrix of `x` into `colsT`, so the
 * filter gradient `colsT x dy` needs no transposed matmul.
 *
 * Loops over output rows outermost: the `kH` input rows one output row reads
 * stay in cache while all K destination streams advance by `outW` each, instead
 * of sweeping the whole input once per patch column.
 */
export function im2colCols(x: Float32Array, g: ConvGeometry, colsT: Float32Array): void {
  const { inH, inW, inC: c, outH, outW, kH, kW } = g;
  const m = patchRows(g);
  const pixelStride = g.strideW * c;
  // Per kw: output columns whose input column is inside the image, [owLo, owHi).
  const owLo = new Int32Array(kW);
  const owHi = new Int32Array(kW);
  for (let kw = 0; kw < kW; kw++) {
    const dw = kw * g.dilationW - g.padLeft;
    owLo[kw] = Math.min(outW, Math.max(0, Math.ceil(-dw / g.strideW)));
    owHi[kw] = Math.max(owLo[kw], Math.min(outW, Math.floor((inW - 1 - dw) / g.strideW) + 1));
  }
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const m0 = (n * outH + oh) * outW;
      for (let kh = 0; kh < kH; kh++) {
        const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
        const inside = ih >= 0 && ih < inH;
        for (let kw = 0; kw < kW; kw++) {
          const lo = owLo[kw];
          const hi = owHi[kw];
          const dw = kw * g.dilationW - g.padLeft;
          for (let ci = 0; ci < c; ci++) {
            const o = ((kh * kW + kw) * c + ci) * m + m0;
            if (!inside) {
              colsT.fill(0, o, o + outW);
              continue;
            }
            for (let ow = 0; ow < lo; ow++) colsT[o + ow] = 0;
            let s = (n * inH + ih) * inW * c + (lo * g.strideW + dw) * c + ci;
            for (let ow = lo; ow < hi; ow++) {
              colsT[o + ow] = x[s];
              s += pixelStride;
            }
            for (let ow = hi; ow < outW; ow++) colsT[o + ow] = 0;
          }
        }
      }
    }
  }
}

/**
 * Scatter-adds the `[M, K]` patch-gradient matrix into `dx` (`[batch, inH, inW, inC]`, overwritten).
 *
 * Per output pixel the in-image filter columns `[kwLo, kwHi)` are computed
 * once, so (with dilation 1) each filter row is one contiguous run of
 * `(kwHi - kwLo) * inC` adds with no per-element bounds checks.
 */
export function col2imRows(dcols: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  const { inH, inW, inC: c, kH, kW, dilationW } = g;
  const kwc = kW * c;
  const contiguous = dilationW === 1;
  dx.fill(0);
  let o = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      const ih0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < g.outW; ow++) {
        const iw0 = ow * g.strideW - g.padLeft;
        const kwLo = Math.min(kW, Math.max(0, Math.ceil(-iw0 / dilationW)));
        const kwHi = Math.max(kwLo, Math.min(kW, Math.floor((inW - 1 - iw0) / dilationW) + 1));
        for (let kh = 0; kh < kH; kh++) {
          const ih = ih0 + kh * g.dilationH;
          if (ih >= 0 && ih < inH) {
            const rowBase = (n * inH + ih) * inW + iw0;
            if (contiguous) {
              let d = (rowBase + kwLo) * c;
              let s = o + kwLo * c;
              const end = o + kwHi * c;
              while (s < end) dx[d++] += dcols[s++];
            } else {
              for (let kw = kwLo; kw < kwHi; kw++) {
                const d = (rowBase + kw * dilationW) * c;
                const s = o + kw * c;
                for (let ci = 0; ci < c; ci++) dx[d + ci] += dcols[s + ci];
              }
            }
          }
          o += kwc;
        }
      }
    }
  }
}
