/**
 * Polling the state of the world: e2e assertions wait for a condition on
 * what the cluster reports, never on the order of API calls.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DatError, getErrorMessage } from '../../../common/errors.js';

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** What is being waited for, for the timeout message. */
  readonly what: string;
  readonly timeoutMs: number;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** Describes the last observed state when the wait times out (e.g. the DATJob's status). */
  readonly describe?: () => Promise<string>;
}

/** The awaited condition did not hold in time. */
export class WaitTimeoutError extends DatError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** Thrown by a probe when the awaited condition can no longer happen (e.g. the job already ended): ends the wait at once. */
export class StopWaiting extends DatError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/**
 * Calls `probe` until it returns something other than `undefined` and
 * returns that. Errors from `probe` count as "not yet" (the API may be
 * briefly unavailable, e.g. while the operator pod is replaced) and the last
 * one is reported on timeout; a {@link StopWaiting} error ends the wait at once.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: string | undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = getErrorMessage(err);
    }
    if (Date.now() >= deadline) break;
    await sleep(opts.intervalMs ?? 1000);
  }
  let state = '';
  if (opts.describe !== undefined) {
    try {
      state = `\nlast state: ${await opts.describe()}`;
    } catch (err) {
      state = `\n(could not describe the state: ${getErrorMessage(err)})`;
    }
  }
  const errText = lastError === undefined ? '' : `\nlast error: ${lastError}`;
  throw new WaitTimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${errText}${state}`);
}
