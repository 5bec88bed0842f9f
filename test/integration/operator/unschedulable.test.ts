/**
 * A gang that cannot be placed says why, against a real control plane with the
 * real kube-scheduler: one node (the test node agent, which runs what the
 * scheduler binds to it) with 2 of a fake extended resource, `example.com/gpu`,
 * and 3-rank jobs asking 1 each. Two ranks are bound and run; the third gets
 * the scheduler's `Insufficient example.com/gpu` verdict, which the operator
 * carries into the Unschedulable condition after the scheduling timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { DATJob } from '../../../operator/api/types.js';
import { startOperator, type OperatorHandle } from '../../../operator/operator.js';
import { startControlPlane, type ControlPlane } from '../../support/control-plane.js';
import { startNodeAgent } from '../../support/node-agent.js';
import { createTestNamespace, waitFor } from '../../support/kube.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';
import { entryCommand } from '../../support/paths.js';
import { DATJobs, installDATJobCRD } from './_crd.js';

const IMAGE_REPO = 'dat-test/fake-worker';
const GPU = 'example.com/gpu';
const TIMEOUT_MS = 40_000;

let cp: ControlPlane;
let agent: Awaited<ReturnType<typeof startNodeAgent>>;
let core: CoreV1Api;
let jobs: DATJobs;
let operator: OperatorHandle | undefined;

before(async () => {
  cp = await startControlPlane({ scheduler: true });
  await installDATJobCRD(cp);
  core = cp.kubeConfig.makeApiClient(CoreV1Api);
  jobs = new DATJobs(cp.kubeConfig);
  const fake = entryCommand('test/integration/operator/fake-worker');
  // schedule: false: kube-scheduler binds; the agent only runs what lands on its node.
  agent = await startNodeAgent({
    kubeConfig: cp.kubeConfig,
    schedule: false,
    extraCapacity: { [GPU]: '2' },
    imageMap: { [IMAGE_REPO]: { resolve: (_cmd, args) => [...fake, ...args] } },
  });
  // The TaintNodesByCondition admission plugin gives a new Node node.kubernetes.io/not-ready:NoSchedule;
  // the node lifecycle controller that lifts it once the node is Ready does not run here, so lift it as that controller would.
  await core.patchNode({ name: agent.nodeName, body: { spec: { taints: [] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  operator = await startOperator({ kubeConfig: cp.kubeConfig, leaderElect: false, metricsPort: 0, healthPort: -1, progressIntervalMs: 500 });
});

after(async () => {
  await operator?.stop();
  await agent?.stop();
  await cp?.stop();
});

/** A 3-rank fake-worker job asking one `example.com/gpu` per rank. */
function gpuJob(name: string, ns: string, policy: 'Wait' | 'Fail'): DATJob {
  const job = makeDATJob(name)
    .namespace(ns)
    .workers(3)
    .image(`${IMAGE_REPO}:1`)
    .env({ name: 'FAKE_RUN_MS', value: '0' })
    .runPolicy({ schedulingTimeoutSeconds: 2, schedulingTimeoutPolicy: policy })
    .obj();
  return { ...job, spec: { ...job.spec, workers: { ...job.spec.workers, resources: { limits: { [GPU]: '1' } } } } };
}

async function listPods(ns: string, job: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector: `dat-operator.io/job-name=${job}` })).items;
}

const conditionOf = (j: DATJob, type: string): { status: string; reason: string; message: string } | undefined => j.status?.conditions?.find((c) => c.type === type);

test('a partly placed gang gets Unschedulable naming the scheduler\'s reason, keeps waiting, then fails and frees the GPUs under policy Fail', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'unsched')).name;
  await jobs.create(gpuJob('wait', ns, 'Wait'));
  const waiting = await waitFor(
    async () => {
      const j = await jobs.get(ns, 'wait');
      return conditionOf(j, 'Unschedulable')?.status === 'True' ? j : undefined;
    },
    { description: 'Unschedulable=True on job wait', timeoutMs: TIMEOUT_MS, intervalMs: 200 },
  );
  const cond = conditionOf(waiting, 'Unschedulable')!;
  assert.equal(cond.reason, 'PodsUnschedulable');
  assert.match(cond.message, /^1 of 3 workers could not be scheduled within 2s: 0\/1 nodes are available: 1 Insufficient example\.com\/gpu/);
  assert.equal(waiting.status?.phase, 'Pending', 'policy Wait keeps the job waiting');
  const pods = await listPods(ns, 'wait');
  assert.equal(pods.filter((p) => (p.spec?.nodeName ?? '') !== '').length, 2, 'two ranks were bound');
  const events = await core.listNamespacedEvent({ namespace: ns });
  assert.ok(events.items.some((e) => e.reason === 'PodsUnschedulable' && e.type === 'Warning'), 'a Warning event says it too');

  // A second job of the same shape cannot fit at all; with policy Fail it fails and gives its pods back.
  // Suspending job wait deletes its pods (there is no garbage collector in this control plane to follow a delete).
  const current = await jobs.get(ns, 'wait');
  await jobs.replace({ ...current, spec: { ...current.spec, runPolicy: { ...current.spec.runPolicy, suspend: true } } });
  await waitFor(async () => ((await listPods(ns, 'wait')).length === 0 ? true : undefined), { description: 'job wait pods gone', timeoutMs: TIMEOUT_MS });
  await jobs.create(gpuJob('fail', ns, 'Fail'));
  const failed = await waitFor(
    async () => {
      const j = await jobs.get(ns, 'fail');
      return j.status?.phase === 'Failed' ? j : undefined;
    },
    { description: 'job fail Failed', timeoutMs: TIMEOUT_MS, intervalMs: 200 },
  );
  assert.equal(conditionOf(failed, 'Failed')?.reason, 'SchedulingTimeout');
  assert.match(conditionOf(failed, 'Failed')?.message ?? '', /Insufficient example\.com\/gpu.*schedulingTimeoutPolicy is Fail$/);
  await waitFor(async () => ((await listPods(ns, 'fail')).length === 0 ? true : undefined), { description: 'job fail pods deleted (GPUs freed)', timeoutMs: TIMEOUT_MS });
});
