/**
 * Small helpers for tests that talk to a real API server: polling the state of
 * the world, a namespace per test, and narrowing API errors.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, type KubeConfig, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { getErrorMessage } from '../../common/errors.js';

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long. @default 30000 */
  readonly timeoutMs?: number;
  /** Pause between attempts. @default 100 */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message, e.g. `pod a/b Running`. @default 'condition' */
  readonly description?: string;
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false` and
 * returns that value. Errors thrown by `probe` count as "not yet" (the last one
 * is reported on timeout), since the awaited object often does not exist yet.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? '' : ` (last error: ${getErrorMessage(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.description ?? 'condition'}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** True when `err` is an API error with HTTP status `code` (e.g. 404, 409). */
export function isApiStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** True when `err` is a 404 from the API server. */
export function isNotFound(err: unknown): boolean {
  return isApiStatus(err, 404);
}

/** A namespace created for one test. */
export interface TestNamespace {
  /** The namespace's name. */
  readonly name: string;
  /** Deletes the namespace (without waiting for it to be gone). */
  delete(): Promise<void>;
}

/**
 * Creates a fresh namespace named `<prefix>-<random>` plus its `default`
 * ServiceAccount (normally made by the controller-manager, which tests may not
 * run), so that each test works in isolation.
 */
export async function createTestNamespace(kubeConfig: KubeConfig, prefix = 'test'): Promise<TestNamespace> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  const body: V1Namespace = { metadata: { name, labels: { 'dat-operator.test/namespace': 'true' } } };
  await core.createNamespace({ body });
  try {
    await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  } catch (err) {
    // The controller-manager's serviceaccount controller may have been faster.
    if (!isApiStatus(err, 409)) throw err;
  }
  return {
    name,
    async delete() {
      try {
        await core.deleteNamespace({ name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
  };
}

/**
 * Polls a pod until `predicate` holds and returns it (e.g. phase Succeeded).
 * @throws on timeout, with the pod's last phase and container states.
 */
export async function waitForPod(
  core: CoreV1Api,
  namespace: string,
  name: string,
  predicate: (pod: V1Pod) => boolean,
  opts: WaitOptions = {},
): Promise<V1Pod> {
  let last: V1Pod | undefined;
  try {
    return await waitFor(
      async () => {
        last = await core.readNamespacedPod({ name, namespace });
        return predicate(last) ? last : undefined;
      },
      { ...opts, description: opts.description ?? `pod ${namespace}/${name}` },
    );
  } catch (err) {
    const seen = last === undefined ? 'never read' : `phase=${last.status?.phase} containers=${JSON.stringify(last.status?.containerStatuses?.map((c) => c.state) ?? [])}`;
    throw new Error(`${getErrorMessage(err)}; last seen: ${seen}`, { cause: err });
  }
}

/** Polls until the pod is gone from the API server. */
export async function waitForPodGone(core: CoreV1Api, namespace: string, name: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor(
    async () => {
      try {
        await core.readNamespacedPod({ name, namespace });
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    },
    { ...opts, description: opts.description ?? `pod ${namespace}/${name} deleted` },
  );
}
