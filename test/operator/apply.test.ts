/**
 * KubeClusterWriter against a local HTTP server standing in for the API
 * server: the requests it sends for a PodGroup, create first and, when the
 * group exists, a merge patch of the annotations the desired group carries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClusterWriter } from '../../operator/apply.js';
import { sharedAuthentication } from '../../operator/kube-client.js';
import { REQUEUE_ANNOTATION, buildPodGroup } from '../../operator/desired/pod-group.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';

interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string;
  readonly body: unknown;
}

/** Answers POST with `createStatus` and PATCH with 200, recording every request. */
async function withFakeApiServer(createStatus: number, fn: (kc: KubeConfig, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '', 'http://x');
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, contentType: req.headers['content-type'] ?? '', body: raw === '' ? undefined : JSON.parse(raw) });
      const status = req.method === 'POST' ? createStatus : 200;
      const body = status === 409 ? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'AlreadyExists', code: 409 } : { kind: 'PodGroup', metadata: {} };
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const kc = new KubeConfig();
  // skipTLSVerify: client-node only allows plain http with it set.
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  try {
    await fn(kc, seen);
  } finally {
    sharedAuthentication(kc).destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const base = makeDATJob('g').namespace('ns').uid('u').workers(3).obj();
const job = { ...base, spec: { ...base.spec, scheduling: { podGroup: { scheduler: 'Coscheduling' as const } } } };
const GROUP_PATH = '/apis/scheduling.x-k8s.io/v1alpha1/namespaces/ns/podgroups';

test('applyPodGroup creates, and patches the annotations of an existing group only when it carries some', async () => {
  const cases: { name: string; createStatus: number; waitedMs?: number; want: { method: string; path: string }[]; wantPatch?: unknown }[] = [
    { name: 'new group', createStatus: 201, waitedMs: 95_000, want: [{ method: 'POST', path: GROUP_PATH }] },
    { name: 'existing group, nothing unschedulable', createStatus: 409, want: [{ method: 'POST', path: GROUP_PATH }] },
    {
      name: 'existing group, gang unschedulable',
      createStatus: 409,
      waitedMs: 95_000,
      want: [{ method: 'POST', path: GROUP_PATH }, { method: 'PATCH', path: `${GROUP_PATH}/g` }],
      wantPatch: { metadata: { annotations: { [REQUEUE_ANNOTATION]: '3' } } },
    },
  ];
  for (const c of cases) {
    await withFakeApiServer(c.createStatus, async (kc, seen) => {
      const group = buildPodGroup(job, c.waitedMs === undefined ? undefined : { waitedMs: c.waitedMs });
      assert.ok(group !== undefined);
      await new KubeClusterWriter(kc).applyPodGroup(group);
      assert.deepEqual(seen.map((r) => ({ method: r.method, path: r.path })), c.want, c.name);
      const patch = seen.find((r) => r.method === 'PATCH');
      if (c.wantPatch !== undefined) {
        assert.deepEqual(patch?.body, c.wantPatch, `${c.name}: patch body`);
        assert.equal(patch?.contentType, 'application/merge-patch+json', `${c.name}: a merge patch`);
      }
    });
  }
});

test('applyPodGroup reports a refused create with the gang scheduler hint', async () => {
  await withFakeApiServer(404, async (kc) => {
    const group = buildPodGroup(job);
    assert.ok(group !== undefined);
    await assert.rejects(new KubeClusterWriter(kc).applyPodGroup(group), /is the gang scheduler installed\?/);
  });
});

test('deletePod asks for a grace period only when given one', async () => {
  const cases = [
    { name: "the pod's own grace", grace: undefined, want: null },
    { name: 'a failed gang: 5 s', grace: 5, want: '5' },
  ];
  for (const c of cases) {
    await withFakeApiServer(200, async (kc, seen) => {
      await new KubeClusterWriter(kc).deletePod('ns', 'g-worker-0', c.grace);
      assert.deepEqual(seen.map((r) => [r.method, r.path]), [['DELETE', '/api/v1/namespaces/ns/pods/g-worker-0']], c.name);
      assert.equal(seen[0]!.query.get('gracePeriodSeconds'), c.want, c.name);
    });
  }
});
