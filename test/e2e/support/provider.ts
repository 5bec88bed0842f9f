/**
 * A cluster provider: what the e2e suite needs from a cluster beyond the
 * Kubernetes API. `local` (the default, CI) starts the project's real control
 * plane and test node agent; `kind` uses the cluster KUBECONFIG points at
 * (created by scripts/e2e-kind.sh). The scenarios only see this interface.
 */

/** Provider names accepted in `DAT_E2E_PROVIDER`. */
export const PROVIDERS = ['local', 'kind'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Environment variable selecting the provider. */
export const PROVIDER_ENV = 'DAT_E2E_PROVIDER';

/** Signals the suite injects into a pod's main process. */
export type FaultSignal = 'SIGKILL' | 'SIGSTOP';

/** Read access to a PersistentVolumeClaim's files, as a pod mounting it would see them. */
export interface VolumeReader {
  /** Names in `relDir` of the claim's volume (empty when it does not exist). */
  list(namespace: string, claimName: string, relDir: string): Promise<string[]>;
  /** Text of `relPath` (UTF-8), or undefined when it does not exist. */
  readText(namespace: string, claimName: string, relPath: string): Promise<string | undefined>;
}

/** A running cluster the suite can drive. */
export interface ClusterProvider {
  readonly name: ProviderName;
  /** Kubeconfig for kubectl and helm. */
  readonly kubeconfigPath: string;
  /** `--set` values the Helm release needs on this provider (e.g. faster progress polls). */
  readonly helmSetValues: readonly string[];
  /**
   * Access mode the example PVC is applied with, when the provider's storage
   * cannot offer the example's ReadWriteMany (kind's local-path is RWO-only,
   * which is fine on its single node). Undefined keeps the example as written.
   */
  readonly pvcAccessMode?: string;
  readonly volumes: VolumeReader;
  /** Sends `signal` to the main process of the pod's (only) container. */
  signalPod(namespace: string, podName: string, signal: FaultSignal): Promise<void>;
  /**
   * GETs `path` on the pod's `port` (rank 0's /progress): the API server's pod
   * proxy on kind, the pod IP directly on `local` (the API server refuses to
   * proxy to the loopback addresses the local pods have).
   */
  podHttpGet(namespace: string, podName: string, port: number, path: string): Promise<string>;
  /** The pod's container output so far (stdout and stderr). */
  podLogs(namespace: string, podName: string): Promise<string>;
  /** Tears down whatever the provider started (the kind cluster itself is left to the script). */
  stop(): Promise<void>;
}

/** Parses `DAT_E2E_PROVIDER` (default `local`). */
export function selectedProvider(env: Readonly<Record<string, string | undefined>> = process.env): ProviderName {
  const v = env[PROVIDER_ENV] ?? 'local';
  if (!(PROVIDERS as readonly string[]).includes(v)) throw new Error(`${PROVIDER_ENV} must be one of ${PROVIDERS.join(', ')}, got ${v}`);
  return v as ProviderName;
}
