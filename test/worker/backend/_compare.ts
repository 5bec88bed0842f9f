/**
 * Test helpers: run the same computation on the pure-JS cpu backend (the
 * reference) and on each compared backend, wasm (with this project's
 * kernels) and native TensorFlow (`@tensorflow/tfjs-node`, when installed),
 * and compare the results.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { getErrorMessage } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';

/** The reference backend every other one is compared against. */
export const REFERENCE_BACKEND = 'cpu';
/** Backends compared against {@link REFERENCE_BACKEND}. */
export const COMPARED_BACKENDS = ['wasm', 'tensorflow'] as const;
/** A backend under comparison. */
export type ComparedBackend = (typeof COMPARED_BACKENDS)[number];
/** Any backend these helpers run computations on. */
export type TestBackend = typeof REFERENCE_BACKEND | ComparedBackend;

/**
 * Set to `1` (CI, after installing the native backend) to fail instead of
 * skip when `tensorflow` cannot be activated, so a broken install is noticed.
 */
export const REQUIRE_NATIVE_ENV = 'DAT_REQUIRE_NATIVE_BACKEND';

/** Why each compared backend cannot run here; filled by {@link initBackends}. */
const unusable = new Map<ComparedBackend, string>();
let initialised: Promise<void> | undefined;

async function init(): Promise<void> {
  for (const backend of COMPARED_BACKENDS) {
    try {
      await selectBackend(backend, silentLogger);
    } catch (err) {
      unusable.set(backend, `${backend} backend unavailable here: ${getErrorMessage(err)}`);
    }
  }
  await selectBackend(REFERENCE_BACKEND, silentLogger);
}

/**
 * Activates every compared backend once (wasm registers the training kernels,
 * tensorflow loads the native binding when installed), then leaves cpu as the
 * neutral default. Idempotent.
 */
export function initBackends(): Promise<void> {
  initialised ??= init();
  return initialised;
}

/**
 * Skips `t` (returning true) when `backend` is unusable here, with the reason;
 * fails instead for `tensorflow` when {@link REQUIRE_NATIVE_ENV} is `1`.
 * Call after {@link initBackends}.
 */
export function skipIfUnavailable(t: TestContext, backend: ComparedBackend): boolean {
  const reason = unusable.get(backend);
  if (reason === undefined) return false;
  if (backend === 'tensorflow' && process.env[REQUIRE_NATIVE_ENV] === '1') assert.fail(`${REQUIRE_NATIVE_ENV}=1 but ${reason}`);
  t.skip(reason);
  return true;
}

/** Runs `fn` on `backend` and copies every output tensor out (then disposes them). */
export async function runOn(backend: TestBackend, fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const list = Array.isArray(outs) ? outs : [outs];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

/** Largest |a-b| and largest |a| over paired arrays (throws on a length mismatch). */
export function maxAbsDiff(want: readonly Float32Array[], got: readonly Float32Array[]): { diff: number; scale: number } {
  if (want.length !== got.length) throw new Error(`output count differs: want ${want.length}, got ${got.length}`);
  let diff = 0;
  let scale = 0;
  want.forEach((w, i) => {
    const g = got[i];
    if (g === undefined || g.length !== w.length) throw new Error(`output ${i} size differs: want ${w.length}, got ${g?.length}`);
    for (let j = 0; j < w.length; j++) {
      const wj = w[j] ?? NaN;
      const d = Math.abs(wj - (g[j] ?? NaN));
      // NaN never compares greater, so catch it explicitly.
      if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
      scale = Math.max(scale, Math.abs(wj));
    }
  });
  return { diff, scale };
}

/**
 * Float32 tolerance for comparing two summation orders: relative to the
 * largest magnitude, 1e-4 is ~1000 ulps, far below any indexing bug's error.
 * It also covers oneDNN's blocked reductions on the native backend.
 */
export const REL_TOL = 1e-4;

/** Asserts all outputs agree within {@link REL_TOL} of the largest reference magnitude. */
export function assertClose(want: readonly Float32Array[], got: readonly Float32Array[]): void {
  const { diff, scale } = maxAbsDiff(want, got);
  assert.ok(diff <= REL_TOL * Math.max(1, scale), `max |diff| ${diff} > tol for scale ${scale}`);
}

/** Asserts every output agrees separately, so a small gradient is not hidden behind a large one. */
export function assertEachClose(want: readonly Float32Array[], got: readonly Float32Array[]): void {
  assert.equal(got.length, want.length, 'output count');
  want.forEach((w, i) => {
    const { diff, scale } = maxAbsDiff([w], [got[i] ?? new Float32Array()]);
    assert.ok(diff <= REL_TOL * Math.max(1, scale), `output ${i}: max |diff| ${diff} > tol for scale ${scale}`);
  });
}

/** Options of {@link testAgainstCpu}. */
export interface AgainstCpuOptions {
  /** Compares reference and backend outputs. @default assertClose */
  readonly check?: (want: readonly Float32Array[], got: readonly Float32Array[]) => void;
  /** Backends to leave out, each with the reason (shown as the skip message). */
  readonly exclude?: Partial<Record<ComparedBackend, string>>;
  /** Runs after the comparison on the same backend (leak checks and the like). */
  readonly after?: (backend: ComparedBackend) => Promise<void> | void;
}

/**
 * Registers one test per compared backend, named `<name> [<backend>]`, that
 * runs `fn` on cpu and on that backend and compares the outputs. The cpu
 * result is computed once and shared by the tests. `fn` must be
 * deterministic: seeded random values are generated in JS, so they are the
 * same on every backend. Call inside a suite whose `before` runs
 * {@link initBackends}.
 */
export function testAgainstCpu(name: string, fn: () => tf.Tensor | tf.Tensor[], opts: AgainstCpuOptions = {}): void {
  let reference: Promise<Float32Array[]> | undefined;
  for (const backend of COMPARED_BACKENDS) {
    test(`${name} [${backend}]`, async (t) => {
      const excluded = opts.exclude?.[backend];
      if (excluded !== undefined) {
        t.skip(excluded);
        return;
      }
      if (skipIfUnavailable(t, backend)) return;
      reference ??= runOn(REFERENCE_BACKEND, fn);
      (opts.check ?? assertClose)(await reference, await runOn(backend, fn));
      await opts.after?.(backend);
    });
  }
}

/** Deterministic uniform [-1, 1) values. */
export function randomValues(shape: readonly number[], seed: number): tf.Tensor {
  return tf.randomUniform([...shape], -1, 1, 'float32', seed);
}
