/**
 * The test node agent runs pods as real processes against the real control
 * plane: phases and exit codes, downward-API env, cluster DNS names between
 * pods, an in-cluster client with the projected token, volumes (a PVC that
 * outlives its pod), kill and delete semantics, restarts, unknown images.
 * Fails (not skips) when the toolchain is missing: run scripts/install-toolchain.sh.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { freePort, startControlPlane, type ControlPlane } from '../../support/control-plane.js';
import { createTestNamespace, waitFor, waitForPod, waitForPodGone, type TestNamespace } from '../../support/kube.js';
import { startNodeAgent, type NodeAgent } from '../../support/node-agent.js';

/** The fake image whose `node` command runs this Node.js binary. */
const NODE_IMAGE = 'test.local/node:1';
const POD_TIMEOUT_MS = 30_000;

function nodePod(name: string, script: string, extra: Partial<V1Container> = {}, spec: Partial<NonNullable<V1Pod['spec']>> = {}, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      ...spec,
      containers: [{ name: 'main', image: NODE_IMAGE, command: ['node', '-e', script], ...extra }],
    },
  };
}

const isPhase =
  (...phases: string[]) =>
  (p: V1Pod): boolean =>
    phases.includes(p.status?.phase ?? '');

describe('test node agent', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let agent: NodeAgent;
  let ns: TestNamespace;

  before(async () => {
    cp = await startControlPlane({ controllerManager: true });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    agent = await startNodeAgent({
      kubeConfig: cp.kubeConfig,
      restartBackoffMs: 200,
      imageMap: {
        'test.local/node': {
          resolve: (command, args) => {
            assert.equal(command[0], 'node');
            return [process.execPath, ...command.slice(1), ...args];
          },
        },
      },
    });
    ns = await createTestNamespace(cp.kubeConfig, 'agent');
  });
  after(async () => {
    await agent?.stop();
    await cp?.stop();
  });

  it('registers a Ready node with capacity', async () => {
    const node = await core.readNode({ name: agent.nodeName });
    assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(Number(node.status?.capacity?.cpu) >= 1);
  });

  it('runs pods: exit codes, fieldRef env, peer DNS, in-cluster token, PVC and config volumes', async () => {
    const n = ns.name;
    // Pods share the host's network stack: a port that no wildcard listener on this machine holds.
    const port = await freePort();
    await core.createNamespacedService({
      namespace: n,
      body: { metadata: { name: 'ring' }, spec: { clusterIP: 'None', selector: { app: 'ring' }, publishNotReadyAddresses: true, ports: [{ port }] } },
    });
    await core.createNamespacedConfigMap({ namespace: n, body: { metadata: { name: 'cfg' }, data: { greeting: 'hello-from-configmap' } } });
    await core.createNamespacedSecret({ namespace: n, body: { metadata: { name: 'sec' }, stringData: { password: 's3cret' } } });

    // A server pod reachable as w0.ring; readiness via an httpGet probe on its pod IP.
    const server = nodePod(
      'server',
      `require('http').createServer((q, s) => s.end('pong from ' + process.env.POD_IP)).listen(Number(process.env.PORT), process.env.POD_IP); setInterval(() => {}, 1000);`,
      {
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'PORT', value: String(port) },
        ],
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
        ports: [{ name: 'http', containerPort: port }],
      },
      { hostname: 'w0', subdomain: 'ring' },
      { app: 'ring' },
    );
    await core.createNamespacedPod({ namespace: n, body: server });
    const running = await waitForPod(
      core,
      n,
      'server',
      (p) => p.status?.phase === 'Failed' || p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      { timeoutMs: POD_TIMEOUT_MS },
    );
    assert.equal(running.status?.phase, 'Running', readFileSync(agent.podLogPath(n, 'server'), 'utf8'));
    const serverIP = running.status?.podIP ?? '';
    assert.match(serverIP, /^127\.\d+\.\d+\.\d+$/);
    assert.equal(running.status?.phase, 'Running');

    // A client pod: env from the downward API, secret and configmap; resolves and calls the server; calls the API in-cluster.
    const clientScript = `
      const { execFileSync } = require('child_process');
      const fs = require('fs');
      (async () => {
        const host = 'w0.ring.' + process.env.MY_NS + '.svc.cluster.local';
        const getent = execFileSync('getent', ['hosts', 'w0.ring']).toString().trim();
        const body = await (await fetch('http://' + host + ':' + process.env.PORT + '/')).text();
        const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
        const token = fs.readFileSync(sa + '/token', 'utf8');
        const https = require('https');
        const url = 'https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT + '/api/v1/namespaces/' + process.env.MY_NS + '/secrets';
        const api = await new Promise((res, rej) => https.get(url, { ca: fs.readFileSync(sa + '/ca.crt'), headers: { Authorization: 'Bearer ' + token } }, (r) => {
          let d = ''; r.on('data', (c) => d += c); r.on('end', () => res(r.statusCode + ' ' + d));
        }).on('error', rej));
        fs.writeFileSync('/ckpt/state.txt', 'step=42');
        console.log(JSON.stringify({ name: process.env.MY_NAME, ns: process.env.MY_NS, ip: process.env.MY_IP, node: process.env.MY_NODE,
          rank: process.env.RANK, pw: process.env.PW, greeting: fs.readFileSync('/etc/cfg/greeting', 'utf8'), getent, body,
          api: api.slice(0, 200), hostname: require('os').hostname() }));
        process.exit(0);
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const client = nodePod(
      'client',
      clientScript,
      {
        env: [
          { name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'MY_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'MY_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'RANK', valueFrom: { fieldRef: { fieldPath: "metadata.labels['rank']" } } },
          { name: 'PW', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
          { name: 'PORT', value: String(port) },
        ],
        volumeMounts: [
          { name: 'ckpt', mountPath: '/ckpt' },
          { name: 'cfg', mountPath: '/etc/cfg', readOnly: true },
        ],
      },
      {
        volumes: [
          { name: 'ckpt', persistentVolumeClaim: { claimName: 'checkpoints' } },
          { name: 'cfg', configMap: { name: 'cfg' } },
        ],
      },
      { rank: '3' },
    );
    await core.createNamespacedPod({ namespace: n, body: client });
    const done = await waitForPod(core, n, 'client', isPhase('Succeeded', 'Failed'), { timeoutMs: POD_TIMEOUT_MS });
    const log = readFileSync(agent.podLogPath(n, 'client'), 'utf8');
    assert.equal(done.status?.phase, 'Succeeded', log);
    assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    const out = JSON.parse(log.trim().split('\n').at(-1) ?? '{}') as Record<string, string>;
    assert.equal(out.name, 'client');
    assert.equal(out.ns, n);
    assert.equal(out.ip, done.status?.podIP);
    assert.equal(out.node, agent.nodeName);
    assert.equal(out.rank, '3');
    assert.equal(out.pw, 's3cret');
    assert.equal(out.greeting, 'hello-from-configmap');
    assert.equal(out.hostname, 'client');
    assert.match(out.getent ?? '', new RegExp(`^${serverIP.replace(/\./g, '\\.')}\\s`));
    assert.equal(out.body, `pong from ${serverIP}`);
    // Authenticated as the pod's ServiceAccount (which RBAC does not allow to list secrets).
    assert.match(out.api ?? '', new RegExp(`^403 .*system:serviceaccount:${n}:default`));

    // The PVC dir outlives the pod: a second pod reads what the first wrote; a non-zero exit fails the pod.
    const reader = nodePod(
      'reader',
      `const s = require('fs').readFileSync('/ckpt/state.txt', 'utf8'); console.log(s); process.exit(s === 'step=42' ? 7 : 1);`,
      { volumeMounts: [{ name: 'ckpt', mountPath: '/ckpt' }] },
      { volumes: [{ name: 'ckpt', persistentVolumeClaim: { claimName: 'checkpoints' } }] },
    );
    await core.createNamespacedPod({ namespace: n, body: reader });
    const failed = await waitForPod(core, n, 'reader', isPhase('Succeeded', 'Failed'), { timeoutMs: POD_TIMEOUT_MS });
    assert.equal(failed.status?.phase, 'Failed', readFileSync(agent.podLogPath(n, 'reader'), 'utf8'));
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 7);

    // SIGKILL of a running pod: Failed with exit code 137.
    const before = agent.podProcess(n, 'server');
    assert.ok(before?.running && before.pid !== undefined);
    agent.killPod(n, 'server', 'SIGKILL');
    const killed = await waitForPod(core, n, 'server', isPhase('Failed'), { timeoutMs: POD_TIMEOUT_MS });
    assert.equal(killed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
  });

  it('deletes a pod after its grace period even if it ignores SIGTERM', async () => {
    const n = ns.name;
    await core.createNamespacedPod({
      namespace: n,
      body: nodePod('stubborn', `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000);`),
    });
    await waitForPod(core, n, 'stubborn', isPhase('Running'), { timeoutMs: POD_TIMEOUT_MS });
    await waitFor(() => readFileSync(agent.podLogPath(n, 'stubborn'), 'utf8').includes('up'), { description: 'stubborn pod started' });
    const pid = agent.podProcess(n, 'stubborn')?.pid;
    assert.ok(pid !== undefined);
    const t0 = Date.now();
    await core.deleteNamespacedPod({ namespace: n, name: 'stubborn', gracePeriodSeconds: 2 });
    await waitForPodGone(core, n, 'stubborn', { timeoutMs: 15_000 });
    const took = Date.now() - t0;
    assert.ok(took >= 1_900, `pod removed after ${took} ms, before its 2 s grace period`);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'process still alive after deletion');
    assert.match(readFileSync(agent.podLogPath(n, 'stubborn'), 'utf8'), /ignoring SIGTERM/);
  });

  it('restarts containers under restartPolicy OnFailure and fails unknown images', async () => {
    const n = ns.name;
    // Fails on the first run, succeeds on the second (state kept in a PVC).
    const flaky = nodePod(
      'flaky',
      `const fs = require('fs'); if (fs.existsSync('/d/ran')) process.exit(0); fs.writeFileSync('/d/ran', '1'); process.exit(5);`,
      { volumeMounts: [{ name: 'd', mountPath: '/d' }] },
      { restartPolicy: 'OnFailure', volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'flaky' } }] },
    );
    await core.createNamespacedPod({ namespace: n, body: flaky });
    const ok = await waitForPod(core, n, 'flaky', isPhase('Succeeded', 'Failed'), { timeoutMs: POD_TIMEOUT_MS });
    assert.equal(ok.status?.phase, 'Succeeded');
    assert.equal(ok.status?.containerStatuses?.[0]?.restartCount, 1);
    assert.equal(ok.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 5);

    const bad: V1Pod = { metadata: { name: 'bad-image' }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'nowhere.example/unknown:1' }] } };
    await core.createNamespacedPod({ namespace: n, body: bad });
    const failed = await waitForPod(core, n, 'bad-image', isPhase('Failed'), { timeoutMs: POD_TIMEOUT_MS });
    assert.equal(failed.status?.reason, 'ErrImagePull');
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ErrImagePull');
  });

  it("runs a Deployment's pod and restarts it in place when killed (restartPolicy Always)", async () => {
    const n = ns.name;
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const labels = { app: 'op' };
    const template = nodePod('unused', `console.log('operator up'); setInterval(() => {}, 1000);`, {}, { restartPolicy: 'Always' }, labels);
    await apps.createNamespacedDeployment({
      namespace: n,
      body: { metadata: { name: 'op' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: template.spec } } },
    });
    const readyPod = async (): Promise<V1Pod | undefined> =>
      (await core.listNamespacedPod({ namespace: n, labelSelector: 'app=op' })).items.find(
        (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true,
      );
    const first = await waitFor(readyPod, { timeoutMs: POD_TIMEOUT_MS, description: 'deployment pod Ready' });
    const name = first.metadata?.name ?? '';
    agent.killPod(n, name, 'SIGKILL');
    const restarted = await waitForPod(core, n, name, (p) => p.status?.containerStatuses?.[0]?.restartCount === 1 && p.status.containerStatuses[0].ready, {
      timeoutMs: POD_TIMEOUT_MS,
    });
    assert.equal(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 137);
    assert.equal(agent.podProcess(n, name)?.running, true);
  });
});
