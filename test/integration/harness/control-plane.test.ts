/**
 * The test control plane is real: the API server authenticates and authorizes
 * (RBAC), and the controller-manager garbage-collects orphaned children.
 * Fails (not skips) when the toolchain is missing: run scripts/install-toolchain.sh.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { httpsGet, startControlPlane, type ControlPlane } from '../../support/control-plane.js';
import { createTestNamespace, isNotFound, waitFor } from '../../support/kube.js';

describe('test control plane', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;

  before(async () => {
    const t0 = Date.now();
    cp = await startControlPlane({ controllerManager: true });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    process.stderr.write(`control plane (etcd + apiserver + controller-manager) ready in ${Date.now() - t0} ms\n`);
  });
  after(async () => {
    await cp?.stop();
  });

  it('serves the admin and rejects unauthenticated and unauthorized requests', async () => {
    const cases = [
      { name: 'admin token', token: cp.adminToken, want: 200 },
      { name: 'wrong token', token: 'not-a-token', want: 401 },
      { name: 'anonymous', token: undefined, want: 403 },
    ];
    for (const c of cases) {
      const got = await httpsGet(`${cp.server}/api/v1/namespaces`, cp.caPem, c.token);
      assert.equal(got.status, c.want, `${c.name}: -want ${c.want} +got ${got.status} ${got.body.slice(0, 200)}`);
    }

    // A ServiceAccount without any RoleBinding is authenticated but forbidden (RBAC is on).
    const ns = await createTestNamespace(cp.kubeConfig, 'cp-rbac');
    try {
      await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'nobody' } } });
      const tr = await core.createNamespacedServiceAccountToken({ namespace: ns.name, name: 'nobody', body: { spec: { audiences: [] } } });
      const token = tr.status?.token ?? '';
      assert.notEqual(token, '');
      const got = await httpsGet(`${cp.server}/api/v1/namespaces/${ns.name}/secrets`, cp.caPem, token);
      assert.equal(got.status, 403);
      assert.match(got.body, new RegExp(`system:serviceaccount:${ns.name}:nobody`));
    } finally {
      await ns.delete();
    }
  });

  it('works with kubectl and helm from the toolchain', () => {
    const kubectl = (...args: string[]): string => execFileSync(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], { encoding: 'utf8' });
    assert.match(kubectl('version', '-o', 'json'), /"gitVersion": "v1\.34\.\d+"/);
    assert.match(kubectl('get', 'namespace', 'default', '-o', 'name'), /^namespace\/default$/m);
    const helm = execFileSync(join(cp.binDir, 'helm'), ['version', '--short'], { encoding: 'utf8' });
    assert.match(helm, /^v3\.\d+\.\d+/);
  });

  it('garbage-collects a child whose owner is deleted', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'cp-gc');
    try {
      const owner = await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'owner' }, data: { a: '1' } } });
      const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }];
      await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'child', ownerReferences }, data: { b: '2' } } });
      await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'owner' });
      await waitFor(
        async () => {
          try {
            await core.readNamespacedConfigMap({ namespace: ns.name, name: 'child' });
            return false;
          } catch (err) {
            if (isNotFound(err)) return true;
            throw err;
          }
        },
        { timeoutMs: 30_000, description: 'child ConfigMap garbage-collected' },
      );
    } finally {
      await ns.delete();
    }
  });
});
