/**
 * The native addon of worker/comm's inner loops (native/kernels, built by
 * scripts/build-native-kernels.sh), when it is built: the ring's float32 sums
 * (reduce-kernels.ts) and the binary16, qsgd8 and sign-ef codecs (half.ts,
 * compression/qsgd8.ts, compression/sign-ef.ts) in C, bit-identical to their TypeScript twins, which stay
 * the path where it is not.
 *
 * DAT_NATIVE_KERNELS=0 turns it off (to compare, or to rule it out).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon exports (native/kernels/kernels.c says what each one computes). */
export interface NativeKernels {
  encodeHalf(src: Float32Array, out: Uint8Array): void;
  decodeHalf(bytes: Uint8Array, out: Float32Array, add: boolean): void;
  sumSquares(g: Float32Array, a: number, b: number): number;
  quantizeSegment(g: Float32Array, a: number, b: number, norm: number, bytes: Uint8Array, at: number, state: number): number;
  addCodes(msg: Uint8Array, codesAt: number, a: number, b: number, table: Float64Array, acc: Float32Array): void;
  firstNonFinite(a: Float32Array): number;
  sumIntoChecked(dst: Float32Array, x: Float32Array, y: Float32Array): number;
  signEfEncode(e: Float32Array, g: Float32Array | null, pieces: Float64Array, out: Uint8Array): void;
  signEfAddDecoded(block: Uint8Array, pieces: Float64Array, divisor: number, acc: Float32Array): void;
  signEfDecode(block: Uint8Array, pieces: Float64Array, divisor: number, out: Float32Array): void;
}

/** Every function the TypeScript calls: an addon built from older sources lacks some and is not used. */
export const NATIVE_KERNEL_FUNCTIONS: readonly (keyof NativeKernels)[] = [
  'encodeHalf',
  'decodeHalf',
  'sumSquares',
  'quantizeSegment',
  'addCodes',
  'firstNonFinite',
  'sumIntoChecked',
  'signEfEncode',
  'signEfAddDecoded',
  'signEfDecode',
];

/** Where the build puts it, from dist/worker/comm (a checkout, or /app in the images). */
export const NATIVE_KERNELS_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'kernels', 'build', 'Release', 'dat_kernels.node');

/** The addon, or why not, decided once per process. */
export interface NativeKernelsStatus {
  readonly kernels: NativeKernels | undefined;
  readonly reason: string;
}

export function loadNativeKernels(path: string = NATIVE_KERNELS_PATH, env: NodeJS.ProcessEnv = process.env): NativeKernelsStatus {
  if (env['DAT_NATIVE_KERNELS'] === '0') return { kernels: undefined, reason: 'off (DAT_NATIVE_KERNELS=0)' };
  if (!existsSync(path)) return { kernels: undefined, reason: `not built (${path}; scripts/build-native-kernels.sh)` };
  try {
    const kernels = createRequire(import.meta.url)(path) as Partial<NativeKernels>;
    const missing = NATIVE_KERNEL_FUNCTIONS.filter((name) => typeof kernels[name] !== 'function');
    if (missing.length > 0) return { kernels: undefined, reason: `stale build without ${missing.join(', ')} (${path}; rerun scripts/build-native-kernels.sh)` };
    return { kernels: kernels as NativeKernels, reason: 'native' };
  } catch (err) {
    return { kernels: undefined, reason: `does not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
}

/** This process's addon status; the callers read `.kernels`. */
export const nativeKernelsStatus: NativeKernelsStatus = loadNativeKernels();
