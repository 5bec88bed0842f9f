/**
 * The codec kernels' native addon (native/codecs, built by scripts/build-native-codecs.sh),
 * when it is built: binary16 and qsgd8 in C, bit-identical to their TypeScript twins in
 * half.ts and compression/qsgd8.ts, which stay the path where it is not.
 *
 * DAT_NATIVE_CODECS=0 turns it off (to compare, or to rule it out).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon exports (native/codecs/codecs.c says what each one computes). */
export interface NativeCodecs {
  encodeHalf(src: Float32Array, out: Uint8Array): void;
  decodeHalf(bytes: Uint8Array, out: Float32Array, add: boolean): void;
  sumSquares(g: Float32Array, a: number, b: number): number;
  quantizeSegment(g: Float32Array, a: number, b: number, norm: number, bytes: Uint8Array, at: number, state: number): number;
  addCodes(msg: Uint8Array, codesAt: number, a: number, b: number, table: Float64Array, acc: Float32Array): void;
}

/** Where the build puts it, from dist/worker/comm (a checkout, or /app in the images). */
export const NATIVE_CODECS_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'codecs', 'build', 'Release', 'dat_codecs.node');

/** The addon, or why not, decided once per process. */
export interface NativeCodecsStatus {
  readonly codecs: NativeCodecs | undefined;
  readonly reason: string;
}

export function loadNativeCodecs(path: string = NATIVE_CODECS_PATH, env: NodeJS.ProcessEnv = process.env): NativeCodecsStatus {
  if (env['DAT_NATIVE_CODECS'] === '0') return { codecs: undefined, reason: 'off (DAT_NATIVE_CODECS=0)' };
  if (!existsSync(path)) return { codecs: undefined, reason: `not built (${path}; scripts/build-native-codecs.sh)` };
  try {
    return { codecs: createRequire(import.meta.url)(path) as NativeCodecs, reason: 'native' };
  } catch (err) {
    return { codecs: undefined, reason: `does not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
}

/** This process's addon status; the kernels read `.codecs`. */
export const nativeCodecsStatus: NativeCodecsStatus = loadNativeCodecs();
