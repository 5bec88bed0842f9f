/**
 * A test node agent: a small kubelet stand-in that runs the pods scheduled to
 * its Node as REAL local processes, for integration and e2e tests against the
 * control plane of `control-plane.ts` (there is no container runtime here).
 *
 * What it does, like kubelet (and a scheduler, and cluster DNS):
 * - registers a Ready Node with capacity, and binds unscheduled pods that fit
 *   (nodeSelector, taints/tolerations, extended resources in capacity);
 * - gives each pod its own loopback IP (`127.x.y.z`), runs each container
 *   as a process in its own mount+UTS namespace (needs root and `unshare`)
 *   with the pod's hostname, a per-pod `/etc/hosts` answering cluster DNS
 *   names, and the pod's volumes bind-mounted at their mount paths;
 * - maps images to local commands ({@link ImageMap}); an unmapped image fails
 *   the pod with reason `ErrImagePull`;
 * - reports phase, IP, container states, exit codes, restarts, Ready;
 * - on deletion: SIGTERM, grace period, SIGKILL, then removes the pod object.
 *
 * Not supported: init containers, liveness/startup probes, exec probes (an
 * alive process counts as ready), resource limits, Service ports that differ
 * from their targetPort (names resolve straight to pod IPs).
 *
 * @example
 * const agent = await startNodeAgent({ kubeConfig: cp.kubeConfig, imageMap: {
 *   'ghcr.io/dat-operator/worker': { resolve: (cmd, args) => [...entryCommand('worker/main'), ...args] },
 * } });
 * ... agent.killPod('ns', 'job-worker-1', 'SIGKILL') ...
 * await agent.stop();
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type V1Node,
  type V1Pod,
  type V1Service,
  type V1Taint,
} from '@kubernetes/client-node';
import { getErrorMessage } from '../../common/errors.js';
import { CLUSTER_DOMAIN } from './control-plane.js';
import { isNotFound } from './kube.js';
import { buildDnsRecords, buildHostsFile, type DnsPod, type DnsService } from './node-agent/dns.js';
import { PodRunner, type ImageMap, type PodProcessInfo, type RunnerContext } from './node-agent/pod-runner.js';
import type { VolumeSources } from './node-agent/volumes.js';
import { MountPointTracker } from './node-agent/mount-points.js';

export type { ImageHandler, ImageMap, PodProcessInfo } from './node-agent/pod-runner.js';

/** Options of {@link startNodeAgent}. */
export interface NodeAgentOptions {
  /** Admin client config (e.g. `ControlPlane.kubeConfig`). */
  readonly kubeConfig: KubeConfig;
  /** Image repository prefix → local command. */
  readonly imageMap: ImageMap;
  /** The Node's name. @default 'dat-test-node' */
  readonly nodeName?: string;
  /** Extra Node labels (beside kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch). @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Node taints; pods must tolerate them to be bound here. @default [] */
  readonly taints?: readonly V1Taint[];
  /** Extra capacity, e.g. `{ 'nvidia.com/gpu': '2' }`. Pods requesting resources absent here are not bound. @default {} */
  readonly extraCapacity?: Readonly<Record<string, string>>;
  /** Bind pods that have no spec.nodeName (there is no scheduler). @default true */
  readonly schedule?: boolean;
  /** State dir (volumes, PVCs, hosts files, logs). @default a new temp dir, removed by stop() */
  readonly stateDir?: string;
  /**
   * Which /24 of pod IPs to use, 0..51199: pods get `127.<16 + block/256>.<block%256>.<1..254>`.
   * @default derived from the pid and the number of agents started in this process
   */
  readonly ipBlock?: number;
  /** First container restart back-off (doubles per restart). @default 1000 */
  readonly restartBackoffMs?: number;
  /** Cap of the restart back-off. @default 10000 */
  readonly maxRestartBackoffMs?: number;
  /** How long a missing Secret/ConfigMap is waited for before the pod fails. @default 30000 */
  readonly configWaitMs?: number;
  /** Variables of the agent's environment passed to every container. @default ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'] */
  readonly inheritEnv?: readonly string[];
  /** Prints what the agent does to stderr (also enabled by env `DAT_NODE_AGENT_DEBUG=1`). @default false */
  readonly debug?: boolean;
}

/** A running node agent. */
export interface NodeAgent {
  readonly nodeName: string;
  readonly stateDir: string;
  /** Signals a pod's process group(s): SIGKILL/SIGTERM to fail it, SIGSTOP/SIGCONT to hang/resume it. */
  killPod(namespace: string, name: string, signal?: NodeJS.Signals, container?: string): void;
  /** The process info of a pod's container (first container unless named), or undefined if not on this node. */
  podProcess(namespace: string, name: string, container?: string): PodProcessInfo | undefined;
  /** The log file of a pod's container (stdout+stderr of every run, appended; kept after the pod is gone). */
  podLogPath(namespace: string, name: string, container?: string): string;
  /** Kills every pod process, deletes the Node, stops watching, removes a temp state dir. */
  stop(): Promise<void>;
}

const DEFAULT_NODE_NAME = 'dat-test-node';
const DEFAULT_INHERIT_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'] as const;
const BASE_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
const INFORMER_RESTART_MS = 1000;
/** Pod IPs are 127.<16..215>.<0..255>.<1..254>: one /24 block per agent (more if it runs over 254 pods). */
const FIRST_IP_OCTET = 16;
const IP_BLOCKS = 200 * 256;
let agentsStarted = 0;

/** True when the pod can run on a node with these labels, taints and capacity (a minimal scheduler predicate). */
export function isSchedulable(pod: V1Pod, labels: Readonly<Record<string, string>>, taints: readonly V1Taint[], capacity: Readonly<Record<string, string>>): boolean {
  const sel = pod.spec?.nodeSelector ?? {};
  if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) return false;
  const tolerations = pod.spec?.tolerations ?? [];
  const tolerated = (t: V1Taint): boolean =>
    t.effect === 'PreferNoSchedule' ||
    tolerations.some(
      (tol) =>
        (tol.effect === undefined || tol.effect === '' || tol.effect === t.effect) &&
        (tol.operator === 'Exists' ? tol.key === undefined || tol.key === '' || tol.key === t.key : tol.key === t.key && (tol.value ?? '') === (t.value ?? '')),
    );
  if (!taints.every(tolerated)) return false;
  for (const c of pod.spec?.containers ?? []) {
    for (const r of [c.resources?.requests, c.resources?.limits]) {
      for (const key of Object.keys(r ?? {})) if (!(key in capacity)) return false;
    }
  }
  return true;
}

function podReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function serverHostPort(kubeConfig: KubeConfig): { host: string; port: string; caPem: string } {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('node agent: kubeConfig has no current cluster');
  const url = new URL(cluster.server);
  const caPem = cluster.caData !== undefined ? Buffer.from(cluster.caData, 'base64').toString('utf8') : '';
  return { host: url.hostname, port: url.port === '' ? '443' : url.port, caPem };
}

/**
 * Registers a Node and starts running the pods bound to it.
 * @throws Error when not root or `unshare` is missing (pods need their own mount namespace).
 */
export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
  if (process.getuid?.() !== 0) throw new Error('node agent: must run as root (pods get their own mount namespace via unshare)');
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`node agent: \`unshare --mount\` does not work here: ${getErrorMessage(err)}`, { cause: err });
  }
  const nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
  const ownStateDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'dat-node-'));
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  // Agents in concurrent test processes must not hand out the same IPs (ports would clash): derive the range from the pid.
  const ipBlock = opts.ipBlock ?? (process.pid * 4 + agentsStarted++) % IP_BLOCKS;
  const debug = opts.debug === true || process.env.DAT_NODE_AGENT_DEBUG === '1';
  const log = (msg: string, kv: Record<string, unknown> = {}): void => {
    if (debug) process.stderr.write(`[node-agent ${nodeName}] ${msg} ${JSON.stringify(kv)}\n`);
  };
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const api = serverHostPort(opts.kubeConfig);
  const hostIP = '127.0.0.1';

  // Step 1: the Node.
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
    ...(opts.labels ?? {}),
  };
  const capacity: Record<string, string> = {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: '110',
    'ephemeral-storage': '100Gi',
    ...(opts.extraCapacity ?? {}),
  };
  const taints = [...(opts.taints ?? [])];
  await registerNode(core, nodeName, labels, taints, capacity, hostIP);

  // Step 2: runners and their shared context.
  const runners = new Map<string, PodRunner>();
  const finalizing = new Set<string>();
  /** `ns/name` → first container name, kept after the pod is gone so its log stays findable. */
  const firstContainer = new Map<string, string>();
  let ipCounter = 0;
  const nextIP = (): string => {
    ipCounter += 1;
    // Skip x.y.z.0 and x.y.z.255 so no address looks like a network/broadcast one.
    while (ipCounter % 256 === 0 || ipCounter % 256 === 255) ipCounter += 1;
    const block = (ipBlock + Math.floor(ipCounter / 256)) % IP_BLOCKS;
    return `127.${FIRST_IP_OCTET + Math.floor(block / 256)}.${block % 256}.${ipCounter % 256}`;
  };
  const logPath = (ns: string, name: string, container: string): string => join(logDir, `${ns}_${name}_${container}.log`);
  const inherit = opts.inheritEnv ?? DEFAULT_INHERIT_ENV;
  const baseEnv: Record<string, string> = {};
  for (const k of inherit) {
    const v = process.env[k];
    if (v !== undefined) baseEnv[k] = v;
  }
  Object.assign(baseEnv, {
    KUBERNETES_SERVICE_HOST: api.host,
    KUBERNETES_SERVICE_PORT: api.port,
    KUBERNETES_SERVICE_PORT_HTTPS: api.port,
  });

  const svcInformer = makeInformer<V1Service>(opts.kubeConfig, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const podInformer = makeInformer<V1Pod>(opts.kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
  let dnsTimer: NodeJS.Timeout | undefined;
  const hostsFor = (r: PodRunner): string => {
    const pods: DnsPod[] = podInformer.list().flatMap((p) => {
      const ip = p.status?.podIP ?? '';
      const phase = p.status?.phase;
      if (ip === '' || phase === 'Succeeded' || phase === 'Failed' || p.metadata?.deletionTimestamp !== undefined) return [];
      return [
        {
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
          ip,
          labels: p.metadata?.labels ?? {},
          ...(p.spec?.hostname === undefined ? {} : { hostname: p.spec.hostname }),
          ...(p.spec?.subdomain === undefined ? {} : { subdomain: p.spec.subdomain }),
          ready: podReady(p),
        },
      ];
    });
    const services: DnsService[] = svcInformer.list().map((s) => ({
      namespace: s.metadata?.namespace ?? '',
      name: s.metadata?.name ?? '',
      ...(s.spec?.selector === undefined ? {} : { selector: s.spec.selector }),
      publishNotReadyAddresses: s.spec?.publishNotReadyAddresses === true,
    }));
    const self = { namespace: r.namespace, ip: r.podIP, hostname: r.hostname, ...(r.pod.spec?.subdomain === undefined ? {} : { subdomain: r.pod.spec.subdomain }) };
    return buildHostsFile(BASE_HOSTS, self, buildDnsRecords(pods, services), CLUSTER_DOMAIN);
  };
  const refreshDns = (): void => {
    if (dnsTimer !== undefined) return;
    // Debounced: a burst of pod updates rewrites each hosts file once.
    dnsTimer = setTimeout(() => {
      dnsTimer = undefined;
      for (const r of runners.values()) if (!r.isTerminating) r.writeHostsFile(hostsFor(r));
    }, 20);
  };

  const volumeSources: VolumeSources = {
    caPem: api.caPem,
    pvcRoot: join(stateDir, 'pvc'),
    async readData(kind, namespace, name) {
      try {
        if (kind === 'Secret') {
          const s = await core.readNamespacedSecret({ name, namespace });
          return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
        }
        const c = await core.readNamespacedConfigMap({ name, namespace });
        return {
          ...Object.fromEntries(Object.entries(c.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
          ...Object.fromEntries(Object.entries(c.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async requestToken(namespace, serviceAccount, audiences, seconds, pod) {
      const tr = await core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: {
          spec: {
            audiences: audiences ?? [],
            expirationSeconds: Math.max(600, seconds),
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
          },
        },
      });
      return tr.status?.token ?? '';
    },
  };

  const mountPoints = new MountPointTracker();
  const ctx: RunnerContext = {
    core,
    imageMap: opts.imageMap,
    volumeSources,
    baseEnv,
    hostIP,
    restartBackoffMs: opts.restartBackoffMs ?? 1000,
    maxRestartBackoffMs: opts.maxRestartBackoffMs ?? 10_000,
    configWaitMs: opts.configWaitMs ?? 30_000,
    logPath,
    writeHosts: (r) => r.writeHostsFile(hostsFor(r)),
    ensureMountPoint: (target, isFile) => mountPoints.ensure(target, isFile),
    onChange: refreshDns,
    log,
  };

  // Step 3: the pod lifecycle, serialized per pod.
  const chains = new Map<string, Promise<void>>();
  const enqueue = (uid: string, fn: () => Promise<void>): void => {
    const prev = chains.get(uid) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => log('Failed to sync pod', { uid, error: getErrorMessage(err) }));
    chains.set(uid, next);
    void next.then(() => {
      if (chains.get(uid) === next) chains.delete(uid);
    });
  };

  const removePodObject = async (pod: V1Pod): Promise<void> => {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? '';
    try {
      if ((pod.metadata?.finalizers ?? []).length > 0) {
        await core.patchNamespacedPod({ name, namespace, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      }
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid ?? '' } } });
    } catch (err) {
      if (!isNotFound(err)) log('Failed to delete pod', { pod: `${namespace}/${name}`, error: getErrorMessage(err) });
    }
  };

  const syncPod = async (pod: V1Pod): Promise<void> => {
    const uid = pod.metadata?.uid ?? '';
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const nodeOfPod = pod.spec?.nodeName;
    if (pod.metadata?.deletionTimestamp !== undefined) {
      if (nodeOfPod !== nodeName || finalizing.has(uid)) return;
      finalizing.add(uid);
      const runner = runners.get(uid);
      if (runner !== undefined) {
        const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        log('Terminating pod', { pod: key, grace });
        await runner.terminate(grace);
        await runner.flushStatus();
      }
      await removePodObject(pod);
      return;
    }
    if (nodeOfPod === undefined || nodeOfPod === '') {
      if (opts.schedule === false || !isSchedulable(pod, labels, taints, capacity)) return;
      try {
        await core.createNamespacedPodBinding({
          name: pod.metadata?.name ?? '',
          namespace: pod.metadata?.namespace ?? '',
          body: { metadata: { name: pod.metadata?.name ?? '' }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
        });
        log('Bound pod', { pod: key });
      } catch (err) {
        log('Failed to bind pod', { pod: key, error: getErrorMessage(err) });
      }
      return;
    }
    if (nodeOfPod !== nodeName) return;
    const existing = runners.get(uid);
    if (existing !== undefined) {
      existing.pod = { ...pod, status: { ...pod.status, podIP: existing.podIP } };
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const runner = new PodRunner(pod, nextIP(), stateDir, ctx);
    runners.set(uid, runner);
    firstContainer.set(key, pod.spec?.containers[0]?.name ?? '');
    log('Starting pod', { pod: key, ip: runner.podIP });
    void runner.start();
  };

  const onDeleted = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid ?? '';
    enqueue(uid, async () => {
      const runner = runners.get(uid);
      runners.delete(uid);
      finalizing.delete(uid);
      if (runner !== undefined) await runner.terminate(0);
      refreshDns();
    });
  };

  // Step 4: watches. The client's informer does not restart itself after an error.
  let stopped = false;
  const restartOnError = <T extends V1Pod | V1Service>(inf: Informer<T>, what: string): void => {
    inf.on('error', (err: unknown) => {
      if (stopped) return;
      log('Restarting informer', { what, error: getErrorMessage(err) });
      setTimeout(() => {
        if (!stopped) void inf.start().catch(() => undefined);
      }, INFORMER_RESTART_MS);
    });
  };
  svcInformer.on('add', refreshDns);
  svcInformer.on('update', refreshDns);
  svcInformer.on('delete', refreshDns);
  restartOnError(svcInformer, 'services');
  const onPod = (pod: V1Pod): void => {
    enqueue(pod.metadata?.uid ?? '', () => syncPod(pod));
    refreshDns();
  };
  podInformer.on('add', onPod);
  podInformer.on('update', onPod);
  podInformer.on('delete', onDeleted);
  restartOnError(podInformer, 'pods');
  await svcInformer.start();
  await podInformer.start();

  const findRunner = (namespace: string, name: string): PodRunner | undefined => {
    let found: PodRunner | undefined;
    // The newest runner wins: a recreated pod with the same name has a new uid.
    for (const r of runners.values()) if (r.namespace === namespace && r.name === name) found = r;
    return found;
  };

  return {
    nodeName,
    stateDir,
    killPod(namespace, name, signal = 'SIGKILL', container) {
      const r = findRunner(namespace, name);
      if (r === undefined) throw new Error(`node agent: pod ${namespace}/${name} is not running on node ${nodeName}`);
      log('Signalled pod', { pod: `${namespace}/${name}`, signal });
      r.kill(signal, container);
    },
    podProcess(namespace, name, container) {
      const procs = findRunner(namespace, name)?.processes() ?? [];
      return container === undefined ? procs[0] : procs.find((p) => p.container === container);
    },
    podLogPath(namespace, name, container) {
      const c = container ?? firstContainer.get(`${namespace}/${name}`) ?? name;
      return logPath(namespace, name, c);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(dnsTimer);
      await podInformer.stop();
      await svcInformer.stop();
      await Promise.all([...runners.values()].map((r) => r.terminate(0)));
      runners.clear();
      mountPoints.cleanup((path, err) => log('Left mount point', { path, error: getErrorMessage(err) }));
      try {
        await core.deleteNode({ name: nodeName });
      } catch (err) {
        if (!isNotFound(err)) log('Failed to delete node', { error: getErrorMessage(err) });
      }
      if (ownStateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function registerNode(core: CoreV1Api, nodeName: string, labels: Record<string, string>, taints: V1Taint[], capacity: Record<string, string>, hostIP: string): Promise<void> {
  const body: V1Node = { metadata: { name: nodeName, labels }, spec: { taints } };
  try {
    await core.createNode({ body });
  } catch (err) {
    // A node left over from a crashed run: start from a clean object.
    if (!(err instanceof Error && /409|already exists/i.test(err.message))) throw err;
    await core.deleteNode({ name: nodeName });
    await core.createNode({ body });
  }
  const now = new Date().toISOString();
  const status = {
    capacity,
    allocatable: capacity,
    addresses: [
      { type: 'InternalIP', address: hostIP },
      { type: 'Hostname', address: nodeName },
    ],
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'dat-operator test node agent is ready', lastHeartbeatTime: now, lastTransitionTime: now }],
    nodeInfo: {
      machineID: nodeName,
      systemUUID: nodeName,
      bootID: nodeName,
      kernelVersion: '',
      osImage: 'dat-operator test node agent',
      containerRuntimeVersion: 'local://processes',
      kubeletVersion: 'v1.34.4',
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: labels['kubernetes.io/arch'] ?? 'amd64',
    },
  };
  await core.patchNodeStatus({ name: nodeName, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}
