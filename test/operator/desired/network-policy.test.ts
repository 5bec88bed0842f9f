import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMetricsScraperPeer, buildNetworkPolicy } from '../../../operator/desired/network-policy.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

test('buildNetworkPolicy admits ring traffic from the job\'s pods and metrics reads from the operator only', () => {
  const job = makeDATJob('j').namespace('team-a').uid('u').obj();
  const np = buildNetworkPolicy(job, { namespace: 'dat-system', podLabels: { 'app.kubernetes.io/name': 'dat-operator' } });
  assert.equal(np.metadata!.name, 'j-ring');
  assert.equal(np.metadata!.namespace, 'team-a');
  assert.equal(np.metadata!.ownerReferences![0]!.uid, 'u');
  assert.deepEqual(np.spec, {
    podSelector: { matchLabels: { 'dat-operator.io/job-name': 'j' } },
    policyTypes: ['Ingress'],
    ingress: [
      { _from: [{ podSelector: { matchLabels: { 'dat-operator.io/job-name': 'j' } } }], ports: [{ protocol: 'TCP', port: 29500 }] },
      {
        _from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dat-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'dat-operator' } } }],
        ports: [{ protocol: 'TCP', port: 9400 }],
      },
    ],
  });
});

test('buildNetworkPolicy appends extra metrics peers after the operator', () => {
  const prom = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
  const np = buildNetworkPolicy(makeDATJob('j').obj(), { namespace: 'dat-system', podLabels: { a: 'b' }, extraMetricsPeers: [prom] });
  assert.deepEqual(np.spec!.ingress![1]!._from!.slice(1), [prom]);
  assert.equal(np.spec!.ingress![0]!._from!.length, 1, 'ring port stays job-only');
});

test('buildMetricsScraperPeer selects by namespace, and by pod labels when given', () => {
  const cases: { name: string; input: { namespace: string; podLabels: Record<string, string> }; want: unknown }[] = [
    {
      name: 'labels',
      input: { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      want: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
    },
    { name: 'no labels: the whole namespace', input: { namespace: 'monitoring', podLabels: {} }, want: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } } },
  ];
  for (const c of cases) assert.deepEqual(buildMetricsScraperPeer(c.input.namespace, c.input.podLabels), c.want, c.name);
});
