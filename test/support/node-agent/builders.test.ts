/** Unit tests of the node agent's pure builders: DNS records, pod phase, `$(VAR)` expansion, scheduling predicate. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { buildDnsRecords, buildHostsFile, type DnsPod, type DnsService } from './dns.js';
import { computePhase, type ContainerView } from './pod-status.js';
import { expandVars } from './env.js';
import { isSchedulable } from '../node-agent.js';

const pod = (name: string, over: Partial<DnsPod> = {}): DnsPod => ({ namespace: 'ns', name, ip: `127.42.0.${name.length}`, labels: { app: 'ring' }, ready: false, ...over });
const svc = (over: Partial<DnsService> = {}): DnsService => ({ namespace: 'ns', name: 'ring', selector: { app: 'ring' }, publishNotReadyAddresses: false, ...over });

describe('buildDnsRecords', () => {
  const cases: { name: string; pods: DnsPod[]; services: DnsService[]; want: string[] }[] = [
    { name: 'not-ready pods are hidden', pods: [pod('a', { hostname: 'w0', subdomain: 'ring' })], services: [svc()], want: [] },
    {
      name: 'publishNotReadyAddresses shows them, with hostname records',
      pods: [pod('a', { hostname: 'w0', subdomain: 'ring' })],
      services: [svc({ publishNotReadyAddresses: true })],
      want: ['ns/ring=127.42.0.1', 'ns/w0.ring=127.42.0.1'],
    },
    { name: 'selector must match', pods: [pod('a', { ready: true, labels: { app: 'other' } })], services: [svc()], want: [] },
    { name: 'other namespace does not match', pods: [pod('a', { ready: true, namespace: 'x' })], services: [svc()], want: [] },
    { name: 'service without selector has no records', pods: [pod('a', { ready: true })], services: [svc({ selector: undefined })], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = buildDnsRecords(c.pods, c.services).map((r) => `${r.namespace}/${r.relativeName}=${r.ip}`);
      assert.deepEqual(got, c.want);
    });
  }

  it('hosts file: short names only in the same namespace', () => {
    const records = [{ namespace: 'ns', relativeName: 'w0.ring', ip: '127.42.0.1' }];
    const same = buildHostsFile('127.0.0.1 localhost', { namespace: 'ns', ip: '127.42.0.2', hostname: 'w1', subdomain: 'ring' }, records, 'cluster.local');
    assert.match(same, /^127\.42\.0\.1\tw0\.ring\.ns\.svc\.cluster\.local w0\.ring\.ns\.svc w0\.ring\.ns w0\.ring$/m);
    assert.match(same, /^127\.42\.0\.2\tw1\.ring\.ns\.svc\.cluster\.local w1$/m);
    const other = buildHostsFile('', { namespace: 'x', ip: '127.42.0.3', hostname: 'p' }, records, 'cluster.local');
    assert.match(other, /^127\.42\.0\.1\tw0\.ring\.ns\.svc\.cluster\.local w0\.ring\.ns\.svc w0\.ring\.ns$/m);
  });
});

describe('computePhase', () => {
  const t = { startedAt: 'a', finishedAt: 'b', reason: 'x' };
  const c = (over: Partial<ContainerView>): ContainerView => ({ name: 'c', image: 'i', state: { waiting: { reason: 'ContainerCreating' } }, restartCount: 0, ready: false, final: false, ...over });
  const cases: { name: string; containers: ContainerView[]; failed?: boolean; want: string }[] = [
    { name: 'creating', containers: [c({})], want: 'Pending' },
    { name: 'running', containers: [c({ state: { running: { startedAt: 'a' } } })], want: 'Running' },
    { name: 'restarting counts as running', containers: [c({ state: { waiting: { reason: 'CrashLoopBackOff' } }, restartCount: 1 })], want: 'Running' },
    { name: 'all exited 0', containers: [c({ state: { terminated: { ...t, exitCode: 0 } }, final: true })], want: 'Succeeded' },
    { name: 'one exited non-zero', containers: [c({ state: { terminated: { ...t, exitCode: 0 } }, final: true }), c({ state: { terminated: { ...t, exitCode: 137 } }, final: true })], want: 'Failed' },
    { name: 'pod-level failure', containers: [c({})], failed: true, want: 'Failed' },
  ];
  for (const tc of cases) {
    it(tc.name, () => assert.equal(computePhase(tc.containers, tc.failed ? { reason: 'ErrImagePull', message: 'm' } : undefined), tc.want));
  }
});

describe('expandVars', () => {
  const cases = [
    { input: '--rank=$(RANK)', want: '--rank=3' },
    { input: '$(MISSING) stays', want: '$(MISSING) stays' },
    { input: '$$(RANK) escapes', want: '$(RANK) escapes' },
  ];
  for (const c of cases) it(c.input, () => assert.equal(expandVars(c.input, { RANK: '3' }), c.want));
});

describe('isSchedulable', () => {
  const p = (spec: Partial<NonNullable<V1Pod['spec']>>): V1Pod => ({ spec: { containers: [{ name: 'c' }], ...spec } });
  const labels = { 'kubernetes.io/os': 'linux' };
  const cases: { name: string; pod: V1Pod; taints?: { key: string; effect: string }[]; want: boolean }[] = [
    { name: 'plain pod', pod: p({}), want: true },
    { name: 'matching nodeSelector', pod: p({ nodeSelector: { 'kubernetes.io/os': 'linux' } }), want: true },
    { name: 'other nodeSelector', pod: p({ nodeSelector: { gpu: 'yes' } }), want: false },
    { name: 'untolerated taint', pod: p({}), taints: [{ key: 'gpu', effect: 'NoSchedule' }], want: false },
    { name: 'tolerated taint', pod: p({ tolerations: [{ key: 'gpu', operator: 'Exists' }] }), taints: [{ key: 'gpu', effect: 'NoSchedule' }], want: true },
    { name: 'resource not in capacity', pod: p({ containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] }), want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isSchedulable(c.pod, labels, c.taints ?? [], { cpu: '2', memory: '1Gi' }), c.want));
});

it('buildInitScript carries the image directory into a volume mounted over its ancestor', async () => {
  const { buildInitScript } = await import('./pod-runner.js');
  const cases = [
    {
      name: 'repo under an emptyDir target',
      mounts: [{ source: '/state/p/tmp', target: '/tmp', readOnly: false }],
      cwd: '/tmp/ci/repo',
      want: ["mkdir -p '/state/p/tmp/ci/repo'", "mount --bind '/tmp/ci/repo' '/state/p/tmp/ci/repo'", "mount --rbind '/state/p/tmp' '/tmp'"],
    },
    {
      name: 'unrelated mount is a plain bind',
      mounts: [{ source: '/state/p/ckpt', target: '/ckpt', readOnly: false }],
      cwd: '/work/repo',
      want: ["mount --bind '/state/p/ckpt' '/ckpt'"],
    },
  ];
  for (const c of cases) {
    const script = buildInitScript('/state/hosts', 'h', c.mounts, c.cwd);
    for (const line of c.want) assert.ok(script.split('\n').includes(line), `${c.name}: missing ${line} in\n${script}`);
  }
});
