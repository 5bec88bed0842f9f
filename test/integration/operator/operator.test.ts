/**
 * The operator against a real control plane (etcd + kube-apiserver +
 * kube-controller-manager for garbage collection) with the test node agent
 * running each pod as a local process. The worker image maps to a scripted
 * fake worker (fake-worker.ts) driven by FAKE_* env. One control plane for the
 * file; each case gets its own namespace; assertions poll the world.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, CoordinationV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import type { DATJob } from '../../../operator/api/types.js';
import { startOperator, type OperatorHandle, type OperatorOptions } from '../../../operator/operator.js';
import { apiErrorMessage } from '../../../operator/apply.js';
import { startControlPlane, type ControlPlane } from '../../support/control-plane.js';
import { startNodeAgent } from '../../support/node-agent.js';
import { createTestNamespace, waitFor } from '../../support/kube.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';
import { entryCommand } from '../../support/paths.js';
import { createLogger } from '../../../common/log.js';
import { DATJobs, installDATJobCRD } from './_crd.js';

const IMAGE_REPO = 'dat-test/fake-worker';
const IMAGE = `${IMAGE_REPO}:1`;
const JOB_TIMEOUT_MS = 40_000;

let cp: ControlPlane;
let agent: Awaited<ReturnType<typeof startNodeAgent>>;
let core: CoreV1Api;
let jobs: DATJobs;
let operator: OperatorHandle | undefined;

/** Operator options for tests: fast leader election, fast progress polls, no fixed ports. */
function operatorOptions(identity: string): OperatorOptions {
  return {
    kubeConfig: cp.kubeConfig,
    leaderElect: true,
    leaderElectionNamespace: 'default',
    identity,
    leaseDurationMs: 3_000,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
    metricsPort: 0,
    healthPort: -1,
    progressIntervalMs: 500,
    networkPolicy: { namespace: 'dat-system', podLabels: { 'app.kubernetes.io/name': 'dat-operator' } },
    // DAT_TEST_DEBUG=1 shows the operator's log lines.
    log: process.env.DAT_TEST_DEBUG === '1' ? createLogger({ op: identity }) : undefined,
  };
}

before(async () => {
  cp = await startControlPlane({ controllerManager: true });
  await installDATJobCRD(cp);
  core = cp.kubeConfig.makeApiClient(CoreV1Api);
  jobs = new DATJobs(cp.kubeConfig);
  // `dat train <flags>` runs the scripted fake worker with the same flags.
  const fake = entryCommand('test/integration/operator/fake-worker');
  agent = await startNodeAgent({ kubeConfig: cp.kubeConfig, imageMap: { [IMAGE_REPO]: { resolve: (_cmd, args) => [...fake, ...args] } } });
  operator = await startOperator(operatorOptions('op-main'));
  await waitFor(() => operator?.isActive(), { description: 'operator leading', timeoutMs: 15_000 });
});

after(async () => {
  await operator?.stop();
  await agent?.stop();
  await cp?.stop();
});

/** A fake-worker job in `ns` with FAKE_* env. */
function fakeJob(name: string, ns: string, env: Record<string, string>): ReturnType<typeof makeDATJob> {
  return makeDATJob(name)
    .namespace(ns)
    .image(IMAGE)
    .env(...Object.entries(env).map(([k, v]) => ({ name: k, value: v })));
}

async function listPods(ns: string, job: string): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace: ns, labelSelector: `dat-operator.io/job-name=${job}` });
  return list.items;
}

async function waitPhase(ns: string, name: string, phase: string, timeoutMs = JOB_TIMEOUT_MS): Promise<DATJob> {
  return waitFor(
    async () => {
      const j = await jobs.get(ns, name);
      return j.status?.phase === phase ? j : undefined;
    },
    { description: `datjob ${ns}/${name} phase ${phase}`, timeoutMs, intervalMs: 200 },
  );
}

const condition = (j: DATJob, type: string): { status: string; reason: string } | undefined => j.status?.conditions?.find((c) => c.type === type);

test('a DATJob gets its Service and pods with the contract env, runs, and succeeds', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'ok')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '3000' }).obj());
  const svc = await waitFor(() => core.readNamespacedService({ namespace: ns, name: 'j' }), { description: 'service' });
  assert.equal(svc.spec?.clusterIP, 'None');
  assert.equal(svc.spec?.publishNotReadyAddresses, true);
  const pods = await waitFor(async () => ((await listPods(ns, 'j')).length === 2 ? listPods(ns, 'j') : undefined), { description: '2 pods' });
  const pod1 = pods.find((p) => p.metadata?.name === 'j-worker-1')!;
  const env = Object.fromEntries((pod1.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value ?? 'valueFrom']));
  assert.equal(env.DAT_RANK, '1');
  assert.equal(env.DAT_WORLD_SIZE, '2');
  assert.equal(env.DAT_PEER_TEMPLATE, `j-worker-{rank}.j.${ns}.svc:29500`);
  assert.equal(env.DAT_NAMESPACE, ns);
  assert.equal(env.DAT_PEERS, undefined, 'no peer list: the pod size does not grow with replicas');
  assert.equal(env.DAT_RESTART_COUNT, '0');
  assert.equal(pod1.spec?.hostname, 'j-worker-1');
  assert.equal(pod1.spec?.subdomain, 'j');
  // Ring security: this incarnation's TLS Secret (the job CA; each worker issues its own rank certificate) and the job's NetworkPolicy.
  const secret = await core.readNamespacedSecret({ namespace: ns, name: 'j-ring-tls-0' });
  assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca.crt', 'ca.key']);
  assert.deepEqual(pod1.spec?.volumes?.find((v) => v.name === 'ring-tls')?.secret?.items?.map((i) => i.key), ['ca.crt', 'ca.key']);
  const policy = await cp.kubeConfig.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ namespace: ns, name: 'j-ring' });
  assert.deepEqual(policy.spec?.ingress?.map((r) => r.ports?.[0]?.port), [29500, 9400]);
  assert.equal(policy.spec?.ingress?.[0]?._from?.[0]?.podSelector?.matchLabels?.['dat-operator.io/job-name'], 'j');

  const running = await waitPhase(ns, 'j', 'Running');
  assert.equal(condition(running, 'Running')?.status, 'True');
  const done = await waitPhase(ns, 'j', 'Succeeded');
  assert.equal(condition(done, 'Succeeded')?.reason, 'AllWorkersSucceeded');
  assert.ok(done.status?.completionTime !== undefined);
  assert.equal(done.status?.restarts, 0);
  const events = await core.listNamespacedEvent({ namespace: ns });
  assert.ok(events.items.some((e) => e.reason === 'AllWorkersSucceeded'), 'an Event records the success');
  const metrics = await (await fetch(`http://127.0.0.1:${operator?.metricsPort ?? 0}/metrics`)).text();
  assert.match(metrics, /dat_operator_jobs\{phase="Succeeded"\} [1-9]/);
  assert.match(metrics, /dat_operator_reconcile_duration_seconds_count [1-9]/);
  assert.match(metrics, new RegExp(`dat_operator_job_restarts\\{namespace="${ns}",datjob="j"\\} 0`));
  assert.match(metrics, /dat_operator_workqueue_adds_total [1-9]/, 'the informers and the progress poller queued the job');
  assert.match(metrics, /dat_operator_workqueue_depth \d+/);
});

test('a killed worker restarts the whole gang once, then the job succeeds', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'kill')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '6000' }).obj());
  await waitPhase(ns, 'j', 'Running');
  const before = (await listPods(ns, 'j')).map((p) => p.metadata!.uid);
  await agent.killPod(ns, 'j-worker-1', 'SIGKILL');
  const restarted = await waitFor(async () => {
    const j = await jobs.get(ns, 'j');
    return (j.status?.restarts ?? 0) >= 1 ? j : undefined;
  }, { description: 'restarts = 1', timeoutMs: JOB_TIMEOUT_MS });
  assert.equal(condition(restarted, 'Restarting')?.reason, 'WorkerFailed');
  const done = await waitPhase(ns, 'j', 'Succeeded');
  assert.equal(done.status?.restarts, 1);
  const after = await listPods(ns, 'j');
  assert.equal(after.length, 2);
  assert.ok(after.every((p) => !before.includes(p.metadata!.uid)), 'both ranks were recreated, not only the killed one');
  assert.ok(after.every((p) => p.metadata!.labels!['dat-operator.io/incarnation'] === '1'));
});

test('a permanent exit code fails the job without a restart', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'perm')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '1500', FAKE_EXIT_CODE: '2', FAKE_EXIT_RANK: '1' }).obj());
  const failed = await waitPhase(ns, 'j', 'Failed');
  assert.equal(condition(failed, 'Failed')?.reason, 'PermanentError');
  assert.match(failed.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? '', /worker 1 exited with code 2/);
  assert.equal(failed.status?.restarts, 0);
});

test('suspend deletes the pods and keeps the job; resume recreates them', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'susp')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0' }).obj());
  await waitPhase(ns, 'j', 'Running');
  const setSuspend = async (on: boolean): Promise<void> => {
    const j = await jobs.get(ns, 'j');
    await jobs.replace({ ...j, spec: { ...j.spec, runPolicy: { ...j.spec.runPolicy, suspend: on } } });
  };
  await setSuspend(true);
  await waitPhase(ns, 'j', 'Suspended');
  await waitFor(async () => (await listPods(ns, 'j')).length === 0, { description: 'pods deleted on suspend', timeoutMs: JOB_TIMEOUT_MS });
  await setSuspend(false);
  const resumed = await waitPhase(ns, 'j', 'Running');
  assert.equal(condition(resumed, 'Suspended')?.reason, 'JobResumed');
  assert.equal(resumed.status?.restarts, 0, 'suspend is not a restart');
  await jobs.delete(ns, 'j');
});

test('activeDeadlineSeconds fails the job with DeadlineExceeded and stops its pods', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'dl')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0' }).runPolicy({ activeDeadlineSeconds: 4 }).obj());
  const failed = await waitPhase(ns, 'j', 'Failed');
  assert.equal(condition(failed, 'Failed')?.reason, 'DeadlineExceeded');
  await waitFor(async () => (await listPods(ns, 'j')).length === 0, { description: 'running pods cleaned', timeoutMs: JOB_TIMEOUT_MS });
});

test('a hung gang (no step progress) is restarted with ProgressDeadlineExceeded, then fails at backoffLimit', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'hang')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0', FAKE_STALL: '1' }).runPolicy({ progressDeadlineSeconds: 3, backoffLimit: 1 }).obj());
  const restarting = await waitFor(async () => {
    const j = await jobs.get(ns, 'j');
    return (j.status?.restarts ?? 0) >= 1 ? j : undefined;
  }, { description: 'hang restart', timeoutMs: JOB_TIMEOUT_MS });
  assert.equal(condition(restarting, 'Restarting')?.reason, 'ProgressDeadlineExceeded');
  assert.equal(restarting.status?.progress?.step, 0, 'rank 0 progress was read');
  const failed = await waitPhase(ns, 'j', 'Failed');
  assert.equal(condition(failed, 'Failed')?.reason, 'BackoffLimitExceeded');
});

test('progress from rank 0 reaches status.progress', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'prog')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0' }).obj());
  const j = await waitFor(async () => {
    const x = await jobs.get(ns, 'j');
    return (x.status?.progress?.step ?? 0) > 0 ? x : undefined;
  }, { description: 'progress in status', timeoutMs: JOB_TIMEOUT_MS });
  assert.equal(j.status?.progress?.robustAccuracy, 0.42);
  assert.equal(j.status?.progress?.totalEpochs, 2);
  await jobs.delete(ns, 'j');
});

test('spec.evaluation reaches the worker as --final-eval flags, and its result reaches status.evaluation', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'final-eval')).name;
  // The CRD defaults attacks to [autoattack]; the fake worker echoes the flags it got in its final report.
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0', FAKE_DONE_MS: '1000' }).evaluation({ examples: 200, eps: 0.25 }).obj());
  const stored = await jobs.get(ns, 'j');
  assert.deepEqual(stored.spec.evaluation, { attacks: ['autoattack'], examples: 200, eps: 0.25 }, 'the API server stores spec.evaluation with its default');
  const j = await waitFor(async () => {
    const x = await jobs.get(ns, 'j');
    return x.status?.evaluation !== undefined ? x : undefined;
  }, { description: 'status.evaluation', timeoutMs: JOB_TIMEOUT_MS });
  assert.deepEqual(j.status?.evaluation, {
    attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
    eps: 0.25,
    examples: 200,
    cleanAccuracy: 0.95,
    perAttack: [
      { attack: 'apgd-ce', robustAccuracy: 0.85 },
      { attack: 'apgd-t', robustAccuracy: 0.8 },
      { attack: 'fab-t', robustAccuracy: 0.75 },
      { attack: 'square', robustAccuracy: 0.7 },
    ],
    robustAccuracy: 0.7,
    seconds: 4,
  });
  // The API server refuses a change of the final evaluation, as of training.
  const current = await jobs.get(ns, 'j');
  await assert.rejects(jobs.replace({ ...current, spec: { ...current.spec, evaluation: { attacks: ['pgd'] } } }), (err: unknown) => /evaluation is immutable/.test(apiErrorMessage(err)));
  await jobs.delete(ns, 'j');
});

test('deleting a DATJob removes its pods and Service', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'del')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '0' }).obj());
  await waitPhase(ns, 'j', 'Running');
  await jobs.delete(ns, 'j');
  await waitFor(async () => (await listPods(ns, 'j')).length === 0, { description: 'pods garbage-collected', timeoutMs: JOB_TIMEOUT_MS });
  await waitFor(async () => (await core.listNamespacedService({ namespace: ns })).items.length === 0, { description: 'service garbage-collected', timeoutMs: JOB_TIMEOUT_MS });
});

test('an operator restarted mid-job picks up without duplicate pods', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'rest')).name;
  await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '8000' }).obj());
  await waitPhase(ns, 'j', 'Running');
  const uids = (await listPods(ns, 'j')).map((p) => p.metadata!.uid).sort();
  await operator?.stop();
  operator = await startOperator(operatorOptions('op-second'));
  await waitFor(() => operator?.isActive(), { description: 'new operator leading', timeoutMs: 15_000 });
  const done = await waitPhase(ns, 'j', 'Succeeded');
  assert.equal(done.status?.restarts, 0);
  assert.deepEqual((await listPods(ns, 'j')).map((p) => p.metadata!.uid).sort(), uids, 'the same two pods, none recreated');
});

test('two operator replicas never both act; the standby takes over when the leader stops', async () => {
  const standby = await startOperator(operatorOptions('op-standby'));
  try {
    const lease = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      samples.push(Number(operator?.isActive() === true) + Number(standby.isActive()));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(samples, Array(10).fill(1), 'exactly one replica active at every sample');
    const holder = (await lease.readNamespacedLease({ namespace: 'default', name: 'dat-operator-leader' })).spec?.holderIdentity;
    assert.equal(holder, operator?.identity);
    await operator?.stop();
    operator = standby;
    await waitFor(() => standby.isActive(), { description: 'standby took over', timeoutMs: 10_000 });
    // The new leader reconciles: a new job runs to completion.
    const ns = (await createTestNamespace(cp.kubeConfig, 'le')).name;
    await jobs.create(fakeJob('j', ns, { FAKE_RUN_MS: '1500' }).obj());
    await waitPhase(ns, 'j', 'Succeeded');
  } finally {
    if (operator !== standby) await standby.stop();
  }
});
