/**
 * The Helm chart, rendered by the real `helm` binary: lint, the CRD copy,
 * the restricted security context, least-privilege RBAC, and a golden file.
 * Set UPDATE_GOLDEN=1 to rewrite the golden output after an intended change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/paths.js';
import { toolchainBinDir } from '../support/control-plane.js';

const run = promisify(execFile);
const CHART = join(REPO_ROOT, 'charts', 'dat-operator');
const GOLDEN = join(REPO_ROOT, 'test', 'charts', 'golden', 'default.yaml');

function helmBin(): string {
  const bin = join(toolchainBinDir(), 'helm');
  if (!existsSync(bin)) throw new Error(`helm not found at ${bin}; run scripts/install-toolchain.sh`);
  return bin;
}

type K8sObject = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

async function render(...args: string[]): Promise<K8sObject[]> {
  const { stdout } = await run(helmBin(), ['template', 'dat', CHART, '--namespace', 'dat-system', ...args]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

test('helm lint passes', async () => {
  const { stdout } = await run(helmBin(), ['lint', CHART, '--strict']);
  assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('the chart carries an identical copy of crds/datjob.yaml', async () => {
  const [src, copy] = await Promise.all([
    readFile(join(REPO_ROOT, 'crds', 'datjob.yaml'), 'utf8'),
    readFile(join(CHART, 'crds', 'datjob.yaml'), 'utf8'),
  ]);
  assert.equal(copy, src, 'charts/dat-operator/crds/datjob.yaml differs from crds/datjob.yaml: run scripts/sync-crd.sh');
});

test('default render matches the golden file', async () => {
  const { stdout } = await run(helmBin(), ['template', 'dat', CHART, '--namespace', 'dat-system']);
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(GOLDEN, stdout);
  assert.equal(stdout, await readFile(GOLDEN, 'utf8'), 'rendered chart changed: review and rerun with UPDATE_GOLDEN=1');
});

test('operator pod runs restricted: non-root, read-only root, no capabilities, RuntimeDefault seccomp', async () => {
  const objs = await render();
  const dep = objs.find((o) => o.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown>; args: string[] }[] } } };
  };
  assert.ok(dep, 'no Deployment rendered');
  const pod = dep.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
  const c = pod.containers[0]!;
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.ok(c.args.includes('--leader-elect=true'), 'leader election is on by default');
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

test('RBAC grants exactly what the operator uses, with no wildcards', async () => {
  const objs = await render();
  const role = objs.find((o) => o.kind === 'ClusterRole') as unknown as { rules: Rule[] };
  const grants = new Set<string>();
  for (const r of role.rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) grants.add(`${g}/${res}:${v}`);
  for (const g of grants) assert.ok(!g.includes('*'), `wildcard grant ${g}`);
  const want = [
    'dat.dat-operator.io/datjobs:get', 'dat.dat-operator.io/datjobs:list', 'dat.dat-operator.io/datjobs:watch', 'dat.dat-operator.io/datjobs:delete',
    'dat.dat-operator.io/datjobs/status:get', 'dat.dat-operator.io/datjobs/status:patch', 'dat.dat-operator.io/datjobs/status:update',
    'dat.dat-operator.io/datjobs/finalizers:update',
    '/pods:get', '/pods:list', '/pods:watch', '/pods:create', '/pods:delete', '/pods:patch',
    '/services:get', '/services:list', '/services:watch', '/services:create',
    '/events:create', '/events:patch',
    '/secrets:create', '/secrets:delete', 'networking.k8s.io/networkpolicies:create',
    'scheduling.x-k8s.io/podgroups:create', 'scheduling.volcano.sh/podgroups:create',
    'scheduling.x-k8s.io/podgroups:patch', 'scheduling.volcano.sh/podgroups:patch',
  ];
  assert.deepEqual([...grants].sort(), [...want].sort());
  const lease = objs.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('leader-election')) as unknown as { rules: Rule[] };
  assert.deepEqual(lease.rules, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['dat-dat-operator-leader'], verbs: ['get', 'update'] }]);
  const leaseObj = objs.find((o) => o.kind === 'Lease');
  assert.equal(leaseObj?.metadata.name, 'dat-dat-operator-leader', 'the chart owns the Lease, so helm uninstall removes it');
  const dep = objs.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
  assert.ok(dep.spec.template.spec.containers[0]!.args.includes('--leader-election-id=dat-dat-operator-leader'));
});

test('values switch the optional pieces', async () => {
  const cases = [
    { name: 'leader election off drops the lease Role and the Lease', args: ['--set', 'leaderElection.enabled=false'], want: (o: K8sObject[]) => !o.some((x) => x.kind === 'Role' || x.kind === 'Lease') },
    { name: 'watchNamespace uses a namespaced Role', args: ['--set', 'watchNamespace=ml'], want: (o: K8sObject[]) => o.some((x) => x.kind === 'Role' && x.metadata.namespace === 'ml') && !o.some((x) => x.kind === 'ClusterRole') },
    { name: 'ServiceMonitor when its API exists', args: ['--set', 'serviceMonitor.enabled=true', '--api-versions', 'monitoring.coreos.com/v1'], want: (o: K8sObject[]) => o.some((x) => x.kind === 'ServiceMonitor') },
    {
      name: 'networkPolicy off drops the NetworkPolicy grant and tells the operator',
      args: ['--set', 'networkPolicy.enabled=false'],
      want: (o: K8sObject[]) => !JSON.stringify(o).includes('networkpolicies') && JSON.stringify(o).includes('--network-policy=false'),
    },
    { name: 'no ServiceMonitor by default', args: [], want: (o: K8sObject[]) => !o.some((x) => x.kind === 'ServiceMonitor') },
    { name: 'no Grafana dashboard by default', args: [], want: (o: K8sObject[]) => !o.some((x) => x.kind === 'ConfigMap') },
    {
      name: 'a metrics scraper is passed to the operator for the NetworkPolicy',
      args: ['--set', 'networkPolicy.metricsScraper.namespace=monitoring', '--set', 'networkPolicy.metricsScraper.podLabels.app=prometheus', '--set', 'networkPolicy.metricsScraper.podLabels.tier=obs'],
      want: (o: K8sObject[]) => {
        const args = JSON.stringify(o);
        return args.includes('--metrics-scraper-namespace=monitoring') && args.includes('--metrics-scraper-pod-labels=app=prometheus,tier=obs');
      },
    },
    {
      name: 'scraper labels alone (no namespace) pass nothing',
      args: ['--set', 'networkPolicy.metricsScraper.podLabels.app=prometheus'],
      want: (o: K8sObject[]) => !JSON.stringify(o).includes('--metrics-scraper'),
    },
    { name: 'concurrency reaches the operator flag', args: ['--set', 'concurrency=24'], want: (o: K8sObject[]) => JSON.stringify(o).includes('--concurrency=24') },
  ];
  for (const c of cases) assert.ok(c.want(await render(...c.args)), c.name);
  await assert.rejects(render('--set', 'serviceMonitor.enabled=true'), /monitoring.coreos.com\/v1 API \(Prometheus Operator\) is not installed/);
});

test('grafana.dashboard.enabled renders the dashboard as a ConfigMap for Grafana\'s sidecar', async () => {
  const dashboard = JSON.parse(await readFile(join(CHART, 'dashboards', 'dat-operator.json'), 'utf8')) as unknown;
  type ConfigMap = K8sObject & { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; data: Record<string, string> };
  const cases = [
    { name: 'defaults', args: [], want: { namespace: 'dat-system', label: ['grafana_dashboard', '1'] } },
    {
      name: 'label, value, namespace and annotations from values',
      args: ['--set', 'grafana.dashboard.label=dashboards', '--set', 'grafana.dashboard.labelValue=dat', '--set', 'grafana.dashboard.namespace=monitoring', '--set', 'grafana.dashboard.annotations.grafana_folder=DAT'],
      want: { namespace: 'monitoring', label: ['dashboards', 'dat'], annotations: { grafana_folder: 'DAT' } },
    },
  ];
  for (const c of cases) {
    const objs = await render('--set', 'grafana.dashboard.enabled=true', ...c.args);
    const cms = objs.filter((o) => o.kind === 'ConfigMap') as ConfigMap[];
    assert.equal(cms.length, 1, `${c.name}: one ConfigMap`);
    const cm = cms[0]!;
    assert.equal(cm.metadata.name, 'dat-dat-operator-dashboard', c.name);
    assert.equal(cm.metadata.namespace, c.want.namespace, c.name);
    assert.equal(cm.metadata.labels[c.want.label[0]!], c.want.label[1], `${c.name}: the sidecar's label, as a string`);
    assert.deepEqual(cm.metadata.annotations, c.want.annotations, c.name);
    assert.deepEqual(Object.keys(cm.data), ['dat-operator.json'], c.name);
    assert.deepEqual(JSON.parse(cm.data['dat-operator.json']!), dashboard, `${c.name}: the ConfigMap carries the dashboard file unchanged`);
  }
});
