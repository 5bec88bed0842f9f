/**
 * The `kind` provider: the cluster KUBECONFIG points at, created by
 * scripts/e2e-kind.sh with the project's images loaded. Faults are injected
 * from the kind node (a Docker container) with crictl, and volumes are read
 * through a reader pod that mounts the claim.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DatError } from '../../../worker/util/errors.js';
import { runChecked } from './command.js';
import { KubeCli } from './kube-cli.js';
import type { ClusterProvider, FaultSignal, VolumeReader } from './provider.js';
import { findTool } from './toolchain.js';

/** Image of the volume reader pods: the worker image is already loaded into kind and has a shell. */
const READER_IMAGE = 'ghcr.io/dat-operator/worker:0.1.0';
/** Where a reader pod mounts the claim. */
const READER_MOUNT = '/volume';
/** Deadline of one proxied HTTP request to a pod. */
const POD_HTTP_TIMEOUT_MS = 5_000;
/** Label marking the suite's reader pods (the suite's pod-count assertions select by job label, so these never count). */
const READER_LABEL = 'dat-operator.io/e2e-volume-reader';

/** Starts the kind provider on the cluster of `$KUBECONFIG`. */
export function startKindProvider(): ClusterProvider {
  const kubeconfigPath = process.env.KUBECONFIG;
  if (kubeconfigPath === undefined || kubeconfigPath === '') {
    throw new DatError('the kind provider needs KUBECONFIG (run the suite through scripts/e2e-kind.sh)', { retryable: false });
  }
  const cli = new KubeCli(kubeconfigPath);
  const readers = new Map<string, string>();

  const readerPod = async (namespace: string, claimName: string): Promise<string> => {
    const key = `${namespace}/${claimName}`;
    const existing = readers.get(key);
    if (existing !== undefined) return existing;
    const name = `volume-reader-${claimName}`.slice(0, 63);
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { [READER_LABEL]: 'true' } },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'reader', image: READER_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '86400'], volumeMounts: [{ name: 'v', mountPath: READER_MOUNT, readOnly: true }] }],
        volumes: [{ name: 'v', persistentVolumeClaim: { claimName, readOnly: true } }],
      },
    };
    await cli.apply({ yaml: JSON.stringify(pod) }, { namespace });
    await cli.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s'], { namespace, timeoutMs: 130_000 });
    readers.set(key, name);
    return name;
  };

  const volumes: VolumeReader = {
    async list(namespace, claimName, relDir) {
      const pod = await readerPod(namespace, claimName);
      const r = await cli.kubectlResult(['exec', pod, '--', 'ls', '-1A', `${READER_MOUNT}/${relDir}`], { namespace });
      return r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
    },
    async readText(namespace, claimName, relPath) {
      const pod = await readerPod(namespace, claimName);
      const r = await cli.kubectlResult(['exec', pod, '--', 'cat', `${READER_MOUNT}/${relPath}`], { namespace });
      return r.code === 0 ? r.stdout : undefined;
    },
  };

  return {
    name: 'kind',
    kubeconfigPath,
    // Faster progress polls so the hang scenario's deadline is judged promptly.
    helmSetValues: ['progressIntervalSeconds=2'],
    pvcAccessMode: 'ReadWriteOnce',
    volumes,
    async signalPod(namespace: string, podName: string, signal: FaultSignal): Promise<void> {
      const pod = await cli.getJson<V1Pod>(['pod', podName], { namespace });
      const node = pod.spec?.nodeName;
      if (node === undefined) throw new DatError(`pod ${namespace}/${podName} is not scheduled yet`, { retryable: true });
      // The kind node is a Docker container named after the node; crictl finds the container's host PID.
      const script = [
        `pod=$(crictl pods -q --namespace '${namespace}' --name '^${podName}$' --state ready | head -n1)`,
        'ctr=$(crictl ps -q --pod "$pod" | head -n1)',
        `pid=$(crictl inspect --output go-template --template '{{.info.pid}}' "$ctr")`,
        `kill -${signal.replace('SIG', '')} "$pid"`,
      ].join(' && ');
      await runChecked(findTool('docker'), ['exec', node, 'sh', '-c', script]);
    },
    podHttpGet(namespace: string, podName: string, port: number, path: string): Promise<string> {
      return cli.getRaw(`/api/v1/namespaces/${namespace}/pods/${podName}:${port}/proxy${path}`, POD_HTTP_TIMEOUT_MS);
    },
    podLogs(namespace: string, podName: string): Promise<string> {
      return cli.kubectl(['logs', podName], { namespace });
    },
    async stop(): Promise<void> {
      for (const [key, name] of readers) {
        const namespace = key.slice(0, key.indexOf('/'));
        await cli.kubectlResult(['delete', 'pod', name, '--ignore-not-found', '--wait=false'], { namespace });
      }
      readers.clear();
    },
  };
}
