/**
 * The `kind` provider: the cluster of `scripts/kind/cluster.sh up` (kubeconfig
 * in DAT_E2E_KUBECONFIG, else KUBECONFIG), with the project's images loaded.
 * Faults are injected from the kind node (a Docker container) with crictl and
 * `docker pause`; volumes are read through a reader pod that mounts the claim;
 * reachability is probed from inside pods with Node's `net`.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DatError } from '../../../common/errors.js';
import { runChecked } from './command.js';
import { KubeCli } from './kube-cli.js';
import { OPERATOR_REPLICAS } from './operator-release.js';
import { KUBECONFIG_ENV, type ClusterProvider, type FaultSignal, type ProbeResult, type VolumeReader } from './provider.js';

/** Image of the helper pods: the worker image is loaded into kind and has Node.js and a shell. */
const HELPER_IMAGE = 'ghcr.io/dat-operator/worker:0.1.0';
/** Where a reader pod mounts the claim. */
const READER_MOUNT = '/volume';
/** Deadline of one proxied HTTP request to a pod. */
const POD_HTTP_TIMEOUT_MS = 5_000;
/** How long a probe waits for a TCP connection (a dropped SYN shows as a timeout). */
const PROBE_CONNECT_MS = 4_000;
/** Label marking the suite's helper pods (the suite's pod-count assertions select by job label, so these never count). */
const HELPER_LABEL = 'dat-operator.io/e2e-helper';

/** A one-line TCP probe: prints `connected` or the error code, always exits 0. */
const PROBE_SCRIPT = [
  "const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});",
  `const t=setTimeout(()=>{console.log('ETIMEDOUT');process.exit(0)},${PROBE_CONNECT_MS});`,
  "s.on('connect',()=>{console.log('connected');clearTimeout(t);s.destroy();process.exit(0)});",
  "s.on('error',(e)=>{console.log(e.code||e.message);clearTimeout(t);process.exit(0)});",
].join('');

/** The kubeconfig the suite must use, or a permanent error saying how to get one. */
function kubeconfigFromEnv(): string {
  const path = process.env[KUBECONFIG_ENV] ?? process.env.KUBECONFIG;
  if (path === undefined || path === '') {
    throw new DatError(`the e2e suite needs a kind cluster: run \`bash scripts/kind/cluster.sh up\` and set ${KUBECONFIG_ENV} to the path it prints (npm test and npm run test:e2e do both)`, { retryable: false });
  }
  return path;
}

function helperPod(namespace: string, name: string, labels: Readonly<Record<string, string>>, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { [HELPER_LABEL]: 'true', ...labels } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'helper', image: HELPER_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '86400'], ...(extra.containers?.[0] ?? {}) }],
      ...(extra.volumes === undefined ? {} : { volumes: extra.volumes }),
    },
  };
}

/** Starts the kind provider on the cluster of the environment's kubeconfig. */
export function startKindProvider(): ClusterProvider {
  const kubeconfigPath = kubeconfigFromEnv();
  const cli = new KubeCli(kubeconfigPath);
  const helpers = new Map<string, string>(); // `${namespace}/${name}` -> name
  const readers = new Map<string, string>(); // `${namespace}/${claim}` -> pod name

  const startHelper = async (pod: V1Pod): Promise<void> => {
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    await cli.apply({ yaml: JSON.stringify(pod) }, { namespace });
    helpers.set(`${namespace}/${name}`, name);
    await cli.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s'], { namespace, timeoutMs: 130_000 });
  };

  const readerPod = async (namespace: string, claimName: string): Promise<string> => {
    const key = `${namespace}/${claimName}`;
    const existing = readers.get(key);
    if (existing !== undefined) return existing;
    const name = `volume-reader-${claimName}`.slice(0, 63);
    await startHelper(
      helperPod(namespace, name, {}, {
        containers: [{ name: 'helper', volumeMounts: [{ name: 'v', mountPath: READER_MOUNT, readOnly: true }] }],
        volumes: [{ name: 'v', persistentVolumeClaim: { claimName, readOnly: true } }],
      }),
    );
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

  /** The Docker container of the pod's node (kind names node containers after their nodes). */
  const nodeContainerOf = async (namespace: string, podName: string): Promise<string> => {
    const pod = await cli.getJson<V1Pod>(['pod', podName], { namespace });
    const node = pod.spec?.nodeName;
    if (node === undefined) throw new DatError(`pod ${namespace}/${podName} is not scheduled yet`, { retryable: true });
    return node;
  };

  return {
    name: 'kind',
    kubeconfigPath,
    // Faster progress polls so the hang scenario's deadline is judged promptly; two operator
    // replicas so that killing the leader hands over to a standby, as in production.
    helmSetValues: ['progressIntervalSeconds=2', `replicaCount=${OPERATOR_REPLICAS}`],
    pvcAccessMode: 'ReadWriteOnce',
    volumes,
    async signalPod(namespace: string, podName: string, signal: FaultSignal): Promise<void> {
      const node = await nodeContainerOf(namespace, podName);
      // crictl finds the container's host PID; the kill runs in the node, as a crashing process would be seen.
      const script = [
        `pod=$(crictl pods -q --namespace '${namespace}' --name '^${podName}$' --state ready | head -n1)`,
        'ctr=$(crictl ps -q --pod "$pod" | head -n1)',
        `pid=$(crictl inspect --output go-template --template '{{.info.pid}}' "$ctr")`,
        `kill -${signal.replace('SIG', '')} "$pid"`,
      ].join(' && ');
      await runChecked('docker', ['exec', node, 'sh', '-c', script]);
    },
    podHttpGet(namespace: string, podName: string, port: number, path: string): Promise<string> {
      return cli.getRaw(`/api/v1/namespaces/${namespace}/pods/${podName}:${port}/proxy${path}`, POD_HTTP_TIMEOUT_MS);
    },
    podLogs(namespace: string, podName: string): Promise<string> {
      return cli.kubectl(['logs', podName], { namespace });
    },
    async probeFromPod(namespace: string, podName: string, host: string, port: number): Promise<ProbeResult> {
      const out = await cli.kubectl(['exec', podName, '--', 'node', '-e', PROBE_SCRIPT, host, String(port)], { namespace, timeoutMs: PROBE_CONNECT_MS + 20_000 });
      const detail = out.trim().split('\n').pop() ?? '';
      return { connected: detail === 'connected', detail };
    },
    async lookupFromPod(namespace: string, podName: string, host: string): Promise<string> {
      const script = "require('dns').lookup(process.argv[1],(e,a)=>{console.log(e?e.code:a)})";
      const out = await cli.kubectl(['exec', podName, '--', 'node', '-e', script, host], { namespace, timeoutMs: 30_000 });
      return out.trim().split('\n').pop() ?? '';
    },
    startProbePod(namespace: string, name: string, labels: Readonly<Record<string, string>>): Promise<void> {
      return startHelper(helperPod(namespace, name, labels));
    },
    async pauseNodeOf(namespace: string, podName: string, ms: number): Promise<void> {
      const node = await nodeContainerOf(namespace, podName);
      await runChecked('docker', ['pause', node]);
      try {
        await new Promise((r) => setTimeout(r, ms));
      } finally {
        await runChecked('docker', ['unpause', node]);
      }
    },
    async stop(): Promise<void> {
      for (const [key, name] of helpers) {
        const namespace = key.slice(0, key.indexOf('/'));
        await cli.kubectlResult(['delete', 'pod', name, '--ignore-not-found', '--wait=false'], { namespace });
      }
      helpers.clear();
      readers.clear();
    },
  };
}
