/**
 * A cluster provider: what the e2e suite needs from a cluster beyond the
 * Kubernetes API. The suite runs on a real kind cluster (real kubelet,
 * containerd, CNI and NetworkPolicy), created by `scripts/kind/cluster.sh up`;
 * the scenarios only see this interface.
 */

/** Environment variable naming the kind cluster's kubeconfig (falls back to KUBECONFIG). */
export const KUBECONFIG_ENV = 'DAT_E2E_KUBECONFIG';

/** Signals the suite injects into a pod's main process. */
export type FaultSignal = 'SIGKILL' | 'SIGSTOP';

/** Read access to a PersistentVolumeClaim's files, as a pod mounting it would see them. */
export interface VolumeReader {
  /** Names in `relDir` of the claim's volume (empty when it does not exist). */
  list(namespace: string, claimName: string, relDir: string): Promise<string[]>;
  /** Text of `relPath` (UTF-8), or undefined when it does not exist. */
  readText(namespace: string, claimName: string, relPath: string): Promise<string | undefined>;
}

/** Outcome of a TCP connection attempt made from inside a pod. */
export interface ProbeResult {
  readonly connected: boolean;
  /** `connected`, or why not (`ETIMEDOUT`, `ECONNREFUSED`, ...). */
  readonly detail: string;
}

/** A running cluster the suite can drive. */
export interface ClusterProvider {
  readonly name: 'kind';
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
  /** GETs `path` on the pod's `port` through the API server's pod proxy. */
  podHttpGet(namespace: string, podName: string, port: number, path: string): Promise<string>;
  /** The pod's container output so far (stdout and stderr). */
  podLogs(namespace: string, podName: string): Promise<string>;
  /** Tries a TCP connection to `host:port` from inside an existing pod (`kubectl exec`). */
  probeFromPod(namespace: string, podName: string, host: string, port: number): Promise<ProbeResult>;
  /** Resolves `host` from inside an existing pod (the cluster's DNS, as the pod sees it): the address or the error code. */
  lookupFromPod(namespace: string, podName: string, host: string): Promise<string>;
  /** Starts a pod with `labels` that only sleeps, for probes; resolves once it is Ready. */
  startProbePod(namespace: string, name: string, labels: Readonly<Record<string, string>>): Promise<void>;
  /** Freezes the node container of `podName`'s node (`docker pause`) for `ms`, then thaws it. */
  pauseNodeOf(namespace: string, podName: string, ms: number): Promise<void>;
  /** Removes the helper pods the provider started (the cluster itself is left to the script). */
  stop(): Promise<void>;
}
