/**
 * The `local` provider (default, CI): the project's real control plane
 * (etcd + kube-apiserver + kube-controller-manager, test/support/control-plane.ts)
 * and test node agent (test/support/node-agent.ts), which runs every pod as a
 * local process. The chart's images map to this checkout's compiled entry
 * points, so the operator runs as the Helm release's pod and the workers as
 * the operator's pods, exactly as on a cluster.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { startControlPlane } from '../../support/control-plane.js';
import { startNodeAgent, type ImageHandler } from '../../support/node-agent.js';
import { REPO_ROOT } from '../../support/paths.js';
import { KubeCli } from './kube-cli.js';
import type { ClusterProvider, VolumeReader } from './provider.js';

/** Image repositories of the chart and the examples. */
const IMAGES = { operator: 'ghcr.io/dat-operator/operator', worker: 'ghcr.io/dat-operator/worker' } as const;
/** Deadline of one HTTP request to a pod. */
const POD_HTTP_TIMEOUT_MS = 5_000;

/**
 * Maps an image's command onto this checkout: the image's entry command
 * (`dat`, `dat-operator`) becomes `node bin/<command>.js`, as the images'
 * symlinks in /usr/local/bin do; anything else runs as given.
 */
function binHandler(entry: string): ImageHandler {
  return {
    resolve: (command, args) => {
      const [first, ...rest] = command.length > 0 ? command : [entry];
      const script = first === 'dat' || first === 'dat-operator' ? join(REPO_ROOT, 'bin', `${first}.js`) : undefined;
      return script === undefined ? [first ?? entry, ...rest, ...args] : [process.execPath, script, ...rest, ...args];
    },
    cwd: REPO_ROOT,
  };
}

/** Starts the control plane and the node agent. */
export async function startLocalProvider(): Promise<ClusterProvider> {
  const cp = await startControlPlane({ controllerManager: true });
  let agent;
  try {
    agent = await startNodeAgent({
      kubeConfig: cp.kubeConfig,
      imageMap: { [IMAGES.operator]: binHandler('dat-operator'), [IMAGES.worker]: binHandler('dat') },
    });
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const node = agent;
  const cli = new KubeCli(cp.kubeconfigPath);
  const pvcDir = (namespace: string, claim: string, rel: string): string => join(node.stateDir, 'pvc', namespace, claim, rel);

  const volumes: VolumeReader = {
    async list(namespace, claimName, relDir) {
      try {
        return await readdir(pvcDir(namespace, claimName, relDir));
      } catch {
        return [];
      }
    },
    async readText(namespace, claimName, relPath) {
      try {
        return await readFile(pvcDir(namespace, claimName, relPath), 'utf8');
      } catch {
        return undefined;
      }
    },
  };

  return {
    name: 'local',
    kubeconfigPath: cp.kubeconfigPath,
    // Faster progress polls so the hang scenario's deadline is judged promptly.
    helmSetValues: ['progressIntervalSeconds=2'],
    volumes,
    async signalPod(namespace, podName, signal) {
      node.killPod(namespace, podName, signal);
    },
    async podHttpGet(namespace, podName, port, path) {
      // The agent knows the current process's IP; it changes when a gang restart recreates the pod.
      const ip = node.podProcess(namespace, podName)?.podIP ?? (await cli.getJson<V1Pod>(['pod', podName], { namespace })).status?.podIP;
      if (ip === undefined || ip === '') throw new Error(`pod ${namespace}/${podName} has no IP yet`);
      const res = await fetch(`http://${ip}:${port}${path}`, { signal: AbortSignal.timeout(POD_HTTP_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`GET ${path} on pod ${namespace}/${podName}: HTTP ${res.status}`);
      return res.text();
    },
    async podLogs(namespace, podName) {
      // Once a pod is gone the agent no longer knows its container name: find the log by its prefix.
      const logDir = join(node.stateDir, 'logs');
      const prefix = `${namespace}_${podName}_`;
      const files = (await readdir(logDir)).filter((f) => f.startsWith(prefix));
      if (files.length === 0) throw new Error(`no log of pod ${namespace}/${podName} in ${logDir}`);
      return (await Promise.all(files.map((f) => readFile(join(logDir, f), 'utf8')))).join('\n');
    },
    async stop() {
      await node.stop();
      await cp.stop();
    },
  };
}
