/**
 * The operator as a user installs it: `helm install` of charts/dat-operator
 * (the CRD comes from the chart's crds/ folder), so the operator runs as a pod
 * of the release's Deployment; and `helm uninstall`.
 */
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../../../operator/constants.js';
import { REPO_ROOT } from '../../support/paths.js';
import type { KubeCli, KubeList } from './kube-cli.js';
import { waitFor } from './poll.js';

/** Release name and namespace used by docs/cluster.md and the suite. */
export const RELEASE = { name: 'dat-operator', namespace: 'dat-system' } as const;
/** Operator replicas the suite installs: a leader and a standby. */
export const OPERATOR_REPLICAS = 2;
/** The chart directory. */
export const CHART_DIR = join(REPO_ROOT, 'charts', 'dat-operator');
/** The DATJob CRD's name. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;
/** Selector of the release's operator pods (the chart's selectorLabels). */
export const OPERATOR_POD_SELECTOR = `app.kubernetes.io/name=dat-operator,app.kubernetes.io/instance=${RELEASE.name}`;
/** Selector of every object the chart labels. */
export const RELEASE_SELECTOR = `app.kubernetes.io/instance=${RELEASE.name}`;

/** How long the operator's Deployment may take to become available (first start builds caches). */
const ROLLOUT_TIMEOUT_S = 180;

/**
 * `helm install dat-operator charts/dat-operator -n dat-system --create-namespace --wait`
 * plus the provider's `--set` values; then waits for the CRD to be established.
 */
export async function helmInstallOperator(cli: KubeCli, setValues: readonly string[]): Promise<void> {
  const args = ['install', RELEASE.name, CHART_DIR, '--namespace', RELEASE.namespace, '--create-namespace', '--wait', '--timeout', `${ROLLOUT_TIMEOUT_S}s`];
  for (const v of setValues) args.push('--set', v);
  await cli.helm(args, { timeoutMs: (ROLLOUT_TIMEOUT_S + 30) * 1000 });
  await waitCrdEstablished(cli, CRD_NAME);
}

/**
 * Waits until the API server reports the CRD `name` Established. Polled rather than `kubectl wait
 * --for=condition=Established`: right after the CRD is created its status has no conditions yet,
 * and kubectl 1.34 then fails at once (".status.conditions accessor error: <nil>") instead of waiting.
 */
export async function waitCrdEstablished(cli: KubeCli, name: string, timeoutMs = 60_000): Promise<void> {
  const established = `{.status.conditions[?(@.type=="Established")].status}`;
  await waitFor(async () => ((await cli.kubectl(['get', `crd/${name}`, '-o', `jsonpath=${established}`])).trim() === 'True' ? true : undefined), {
    what: `the CRD ${name} to be Established`,
    timeoutMs,
    intervalMs: 250,
    describe: () => cli.kubectl(['get', `crd/${name}`, '-o', 'jsonpath={.status}']),
  });
}

/** `helm uninstall dat-operator -n dat-system --wait`. */
export async function helmUninstallOperator(cli: KubeCli): Promise<void> {
  await cli.helm(['uninstall', RELEASE.name, '--namespace', RELEASE.namespace, '--wait', '--timeout', '120s'], { timeoutMs: 150_000 });
}

/** The release's operator pods that are not being deleted. */
export async function listOperatorPods(cli: KubeCli): Promise<V1Pod[]> {
  const list = await cli.getJson<KubeList<V1Pod>>(['pods', '-l', OPERATOR_POD_SELECTOR], { namespace: RELEASE.namespace });
  return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}

/** True when the pod's Ready condition is True. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Waits for a Ready operator pod whose name is not in `exclude`, and returns it. */
export function waitForReadyOperatorPod(cli: KubeCli, exclude: readonly string[], timeoutMs: number): Promise<V1Pod> {
  return waitFor(
    async () => (await listOperatorPods(cli)).find((p) => !exclude.includes(p.metadata?.name ?? '') && isPodReady(p)),
    {
      what: `a ready operator pod other than ${exclude.join(', ') || '(none)'}`,
      timeoutMs,
      describe: async () => JSON.stringify((await listOperatorPods(cli)).map((p) => ({ name: p.metadata?.name, phase: p.status?.phase, conditions: p.status?.conditions }))),
    },
  );
}
