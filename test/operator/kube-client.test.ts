/**
 * API clients from kube-client.ts reuse connections: a local HTTP server
 * counts the connections that 20 list calls open, through client-node's own
 * `makeApiClient` (one per call) and through ours (one, kept alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { makeApiClient, sharedAuthentication } from '../../operator/kube-client.js';

/** An HTTP server answering every request with an empty PodList, counting connections and bearer tokens. */
async function startFakeApiServer(): Promise<{ server: Server; url: string; connections: () => number; tokens: string[] }> {
  let connections = 0;
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    tokens.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [] }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${addr.port}`, connections: () => connections, tokens };
}

function kubeConfigFor(url: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  // skipTLSVerify: client-node only allows plain http with it set.
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('clients from makeApiClient share one keep-alive connection and keep the kubeconfig credentials', async () => {
  const api = await startFakeApiServer();
  try {
    const cases = [
      { name: 'client-node makeApiClient', make: (kc: KubeConfig) => kc.makeApiClient(CoreV1Api), wantConnections: 20 },
      { name: 'kube-client makeApiClient', make: (kc: KubeConfig) => makeApiClient(kc, CoreV1Api), wantConnections: 1 },
    ];
    for (const c of cases) {
      const before = api.connections();
      api.tokens.length = 0;
      const kc = kubeConfigFor(api.url, 'secret-token');
      const core = c.make(kc);
      for (let i = 0; i < 20; i++) await core.listNamespacedPod({ namespace: 'default' });
      assert.equal(api.connections() - before, c.wantConnections, c.name);
      assert.deepEqual(new Set(api.tokens), new Set(['Bearer secret-token']), `${c.name}: every request carries the token`);
      sharedAuthentication(kc).destroy();
    }
  } finally {
    api.server.closeAllConnections();
    await new Promise<void>((resolve) => api.server.close(() => resolve()));
  }
});

test('clients of different API groups made from one KubeConfig share the same pool', async () => {
  const api = await startFakeApiServer();
  try {
    const kc = kubeConfigFor(api.url, 't');
    const core = makeApiClient(kc, CoreV1Api);
    const custom = makeApiClient(kc, CustomObjectsApi);
    const before = api.connections();
    for (let i = 0; i < 5; i++) {
      await core.listNamespacedPod({ namespace: 'default' });
      await custom.listClusterCustomObject({ group: 'g', version: 'v1', plural: 'xs' });
    }
    assert.equal(api.connections() - before, 1);
    sharedAuthentication(kc).destroy();
  } finally {
    api.server.closeAllConnections();
    await new Promise<void>((resolve) => api.server.close(() => resolve()));
  }
});
