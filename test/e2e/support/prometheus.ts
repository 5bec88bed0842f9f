/**
 * A real Prometheus in the cluster under test: the server built from its Go
 * module (image of scripts/images/build-images.sh prometheus, loaded by
 * scripts/kind/cluster.sh), configured with examples/prometheus/prometheus.yml
 * (Kubernetes pod discovery of the operator and the workers), and queried
 * through the API server's pod proxy, as `kubectl get --raw` would.
 */
import { readFileSync } from 'node:fs';
import type { V1ClusterRole, V1ClusterRoleBinding, V1ConfigMap, V1Namespace, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { DatError } from '../../../common/errors.js';
import { PROMETHEUS_CONFIG_EXAMPLE, prometheusImage } from '../../support/prometheus-tools.js';
import type { KubeCli } from './kube-cli.js';
import type { ClusterProvider } from './provider.js';

/** Where the suite's Prometheus runs and how its pod is labelled (the operator's NetworkPolicies admit it). */
export const PROMETHEUS = {
  namespace: 'monitoring',
  name: 'prometheus',
  podLabels: { app: 'prometheus' },
  port: 9090,
  /** Cluster-scoped RBAC objects (pod discovery in every namespace). */
  rbacName: 'dat-e2e-prometheus',
} as const;

/**
 * `helm install --set` values for a release scraped by this Prometheus: each
 * DATJob's NetworkPolicy admits it to the workers' metrics port, and the chart
 * ships the Grafana dashboard whose queries the suite runs.
 */
export const PROMETHEUS_RELEASE_VALUES: readonly string[] = [
  `networkPolicy.metricsScraper.namespace=${PROMETHEUS.namespace}`,
  ...Object.entries(PROMETHEUS.podLabels).map(([k, v]) => `networkPolicy.metricsScraper.podLabels.${k}=${v}`),
  'grafana.dashboard.enabled=true',
];

/** The objects of the suite's Prometheus (pure). */
export function buildPrometheusManifests(image: string, config: string): object[] {
  const { namespace, name, rbacName } = PROMETHEUS;
  const ns: V1Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } };
  const sa: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } };
  const role: V1ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: rbacName },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
  };
  const binding: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: rbacName },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rbacName },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  };
  const cm: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { 'prometheus.yml': config } };
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { ...PROMETHEUS.podLabels } },
    spec: {
      serviceAccountName: name,
      terminationGracePeriodSeconds: 5,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'prometheus',
          image,
          imagePullPolicy: 'IfNotPresent',
          args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--web.listen-address=:${PROMETHEUS.port}`],
          ports: [{ name: 'http', containerPort: PROMETHEUS.port }],
          readinessProbe: { httpGet: { path: '/-/ready', port: PROMETHEUS.port }, periodSeconds: 2 },
          resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
            { name: 'data', mountPath: '/prometheus' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name } },
        { name: 'data', emptyDir: {} },
      ],
    },
  };
  return [ns, sa, role, binding, cm, pod];
}

/** Applies the suite's Prometheus and waits until it is Ready. */
export async function deployPrometheus(cli: KubeCli): Promise<void> {
  const manifests = buildPrometheusManifests(prometheusImage(), readFileSync(PROMETHEUS_CONFIG_EXAMPLE, 'utf8'));
  await cli.apply({ yaml: manifests.map((m) => stringify(m)).join('---\n') });
  await cli.kubectl(['wait', '--for=condition=Ready', `pod/${PROMETHEUS.name}`, '--timeout=120s'], { namespace: PROMETHEUS.namespace, timeoutMs: 130_000 });
}

/**
 * Deletes what {@link deployPrometheus} created and waits for the namespace to
 * go: a later deploy into a namespace still terminating would be refused.
 */
export async function removePrometheus(cli: KubeCli): Promise<void> {
  await cli.kubectlResult(['delete', 'clusterrolebinding,clusterrole', PROMETHEUS.rbacName, '--ignore-not-found']);
  await cli.kubectlResult(['delete', 'namespace', PROMETHEUS.namespace, '--ignore-not-found', '--timeout=90s'], { timeoutMs: 100_000 });
}

/** One series of an instant query's vector result. */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** The value as Prometheus writes it ("NaN", "+Inf" included), parsed. */
  readonly value: number;
}

/** Prometheus's JSON envelope of `/api/v1/query`. */
interface QueryResponse {
  readonly status: 'success' | 'error';
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: readonly { metric: Record<string, string>; value: [number, string] }[] };
}

/** Runs an instant query (`/api/v1/query`) on the suite's Prometheus; throws on a query error. */
export async function queryPrometheus(provider: ClusterProvider, expr: string): Promise<PromSample[]> {
  const body = await provider.podHttpGet(PROMETHEUS.namespace, PROMETHEUS.name, PROMETHEUS.port, `/api/v1/query?query=${encodeURIComponent(expr)}`);
  const r = JSON.parse(body) as QueryResponse;
  if (r.status !== 'success' || r.data === undefined) throw new DatError(`prometheus rejected ${expr}: ${r.error ?? body}`, { retryable: false });
  if (r.data.resultType !== 'vector') throw new DatError(`prometheus answered ${expr} with a ${r.data.resultType}, not a vector`, { retryable: false });
  return r.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}
