/**
 * Kueue admits DATJob gangs as one unit, on kind with Kueue built from its Go
 * module (scripts/kind/install-kueue.sh). The node advertises a fake extended
 * resource, `example.com/gpu` (patched into its status capacity, as Kubernetes
 * documents for extended resources), and one ClusterQueue has a quota of 4 of
 * it. Every job has 3 ranks asking 1 each, so only one gang fits at a time:
 *
 * 1. Two jobs: one runs; the other waits with every pod gated and none bound,
 *    then runs when the first finishes.
 * 2. A higher-priority job preempts the running one, which stops (condition
 *    Restarting, reason Preempted), waits in the queue, and resumes from its
 *    checkpoint once the preemptor finished: it ends at exactly its planned
 *    step count.
 *
 * The operator is the chart's, as in datjob-lifecycle.test.ts (its own release,
 * installed and uninstalled here). Each job has its own namespace, PVC and
 * LocalQueue, all feeding the one ClusterQueue.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { DATJob } from '../../operator/api/types.js';
import { CONDITION_TYPES, KUEUE, LABELS, REASONS } from '../../operator/constants.js';
import { workerPodName } from '../../operator/names.js';
import type { ProgressReport } from '../../common/contract.js';
import { REPO_ROOT } from '../support/paths.js';
import { listCompleteCheckpointSteps } from './support/checkpoints.js';
import { runChecked } from './support/command.js';
import { isFailed, isSucceeded, listJobEventReasons, listJobPods, waitForDATJob, waitForRunningWorker } from './support/datjob-observer.js';
import { E2EContext } from './support/e2e-context.js';
import { deriveJob, type DeepPartial } from './support/examples.js';
import type { KubeList } from './support/kube-cli.js';
import { helmInstallOperator, helmUninstallOperator } from './support/operator-release.js';
import { StopWaiting, waitFor } from './support/poll.js';
import { readRankZeroProgress } from './support/rank-zero-progress.js';
import { startProvider } from './support/start-provider.js';

const GPU = 'example.com/gpu';
/** Node capacity above the quota: the ClusterQueue, not the scheduler, is what keeps the second gang out. */
const NODE_GPUS = 6;
const QUOTA_GPUS = 4;
const RANKS = 3;
/** Per run, like the namespaces: a ClusterQueue of an earlier run may still be finalizing. */
const CLUSTER_QUEUE = `dat-gpu-${Date.now().toString(36)}`;
const LOCAL_QUEUE = 'gpu';
const PRIORITY = { low: 'dat-low', high: 'dat-high' } as const;
const TIMEOUTS = { install: 10 * 60_000, running: 3 * 60_000, training: 8 * 60_000, scenario: 20 * 60_000 } as const;
const FAST_POLL_MS = 250;
/** Namespaces are per run: a namespace of an earlier run may still be terminating. */
const RUN = Date.now().toString(36);

const state: { ctx?: E2EContext; installed: boolean } = { installed: false };

function ctx(): E2EContext {
  assert.ok(state.ctx !== undefined && state.installed, 'the cluster, Kueue or the operator is not set up (see before())');
  return state.ctx;
}

/** kubectl apply of in-memory objects. */
async function applyObjects(c: E2EContext, objects: readonly object[], namespace?: string): Promise<void> {
  await c.cli.apply({ yaml: objects.map((o) => stringify(o)).join('---\n') }, namespace === undefined ? {} : { namespace });
}

/** The ClusterQueue with a quota of 4 GPUs (CPU and memory generous: only the GPUs are scarce), and the PriorityClasses. */
function clusterObjects(): object[] {
  return [
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: PRIORITY.low }, value: 100, description: 'dat-operator e2e: preemptible training' },
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: PRIORITY.high }, value: 1000, description: 'dat-operator e2e: urgent training' },
    { apiVersion: 'kueue.x-k8s.io/v1beta2', kind: 'ResourceFlavor', metadata: { name: 'default-flavor' } },
    {
      apiVersion: 'kueue.x-k8s.io/v1beta2',
      kind: 'ClusterQueue',
      metadata: { name: CLUSTER_QUEUE },
      spec: {
        namespaceSelector: {},
        preemption: { withinClusterQueue: 'LowerPriority' },
        resourceGroups: [
          {
            coveredResources: ['cpu', 'memory', GPU],
            flavors: [{ name: 'default-flavor', resources: [{ name: 'cpu', nominalQuota: '64' }, { name: 'memory', nominalQuota: '256Gi' }, { name: GPU, nominalQuota: String(QUOTA_GPUS) }] }],
          },
        ],
      },
    },
  ];
}

/** The namespaces this run created. */
const namespaces: string[] = [];

/** A namespace with the example PVC and a LocalQueue on the ClusterQueue. */
async function prepareNamespace(c: E2EContext, ns: string): Promise<void> {
  await c.createNamespaceWithPvc(ns);
  namespaces.push(ns);
  await applyObjects(c, [{ apiVersion: 'kueue.x-k8s.io/v1beta2', kind: 'LocalQueue', metadata: { name: LOCAL_QUEUE }, spec: { clusterQueue: CLUSTER_QUEUE } }], ns);
}

/** The example job with 3 ranks of 1 GPU each, queued on the LocalQueue at `priority`. */
async function applyQueuedJob(c: E2EContext, ns: string, name: string, priority: string, spec: DeepPartial<DATJob['spec']> = {}): Promise<DATJob> {
  const { job } = deriveJob(c.mnistJob, name, {
    ...spec,
    // 100m CPU per rank: the kind node has 2 CPUs, and the operator's two replicas, Kueue and the system pods take their share.
    workers: { replicas: RANKS, resources: { requests: { cpu: '100m' }, limits: { [GPU]: '1' } }, template: { spec: { priorityClassName: priority } } },
  });
  const queued: DATJob = { ...job, metadata: { ...job.metadata, labels: { ...job.metadata.labels, [KUEUE.queueLabel]: LOCAL_QUEUE } } };
  await c.cli.apply({ yaml: stringify(queued) }, { namespace: ns });
  return queued;
}

/** A short run (`epochs` passes over `limit` images): the jobs that only need to hold the quota for a while. */
const shortTraining = (limit: number, epochs = 1): DeepPartial<DATJob['spec']> => ({
  // batchSizePerWorker pinned at 128 (the default before MNIST's became 256), so the first job's run length, which the
  // waiting job's sampling depends on, does not move with the training defaults.
  training: { limit, epochs, batchSizePerWorker: 128, schedule: { type: 'cosine', warmupEpochs: 0 }, evaluation: { everyEpochs: epochs, size: 200 } },
});

const isGated = (p: V1Pod): boolean => (p.spec?.schedulingGates ?? []).some((g) => g.name === 'kueue.x-k8s.io/admission');
const isBound = (p: V1Pod): boolean => (p.spec?.nodeName ?? '') !== '';

/** Rank 0's progress while it trains; stops the wait when the job ended (the awaited mid-run state cannot come). */
async function trainingProgress(c: E2EContext, ns: string, name: string): Promise<ProgressReport | undefined> {
  const p = await readRankZeroProgress(c.provider, ns, workerPodName(name, 0));
  if (p?.phase === 'done' || p?.phase === 'failed') throw new StopWaiting(`rank 0 of ${ns}/${name} already reports ${p.phase} at step ${p.step}`);
  return p?.phase === 'training' ? p : undefined;
}

function waitForEnd(c: E2EContext, ns: string, name: string): Promise<DATJob> {
  return waitForDATJob(c.cli, ns, name, 'finished', (j) => isSucceeded(j) || isFailed(j), TIMEOUTS.training);
}

describe('Kueue admits DATJob gangs as one unit', { timeout: 60 * 60_000 }, () => {
  before(async () => {
    const c = new E2EContext(await startProvider());
    state.ctx = c;
    // scripts/kind/cluster.sh names the kubeconfig after the cluster.
    const cluster = basename(c.provider.kubeconfigPath).replace(/\.kubeconfig$/, '');
    await runChecked('bash', [`${REPO_ROOT}/scripts/kind/install-kueue.sh`], { env: { KIND_CLUSTER_NAME: cluster }, timeoutMs: TIMEOUTS.install });
    const nodes = await c.cli.getJson<KubeList<V1Node>>(['nodes']);
    for (const n of nodes.items) {
      const patch = [{ op: 'add', path: `/status/capacity/${GPU.replace('/', '~1')}`, value: String(NODE_GPUS) }];
      await c.cli.kubectl(['patch', 'node', n.metadata?.name ?? '', '--subresource=status', '--type=json', '-p', JSON.stringify(patch)]);
    }
    await waitFor(
      async () => ((await c.cli.getJson<KubeList<V1Node>>(['nodes'])).items.every((n) => n.status?.allocatable?.[GPU] === String(NODE_GPUS)) ? true : undefined),
      { what: `every node allocatable ${GPU}=${NODE_GPUS}`, timeoutMs: 60_000 },
    );
    await applyObjects(c, clusterObjects());
    await helmInstallOperator(c.cli, c.provider.helmSetValues);
    // Image tags are shared on the build host: make sure the operator running here is one that knows Kueue.
    const probe = await c.cli.kubectlResult(['exec', 'deploy/dat-operator', '--', 'grep', '-c', KUEUE.podGroupLabel, '/app/dist/operator/constants.js'], { namespace: 'dat-system' });
    assert.equal(probe.code, 0, `the operator image lacks Kueue support (rebuild and load it): ${probe.stderr}`);
    state.installed = true;
  }, { timeout: TIMEOUTS.install + 5 * 60_000 });

  after(async () => {
    const c = state.ctx;
    if (c === undefined) return;
    // Jobs go while the operator runs: it ends their Kueue groups, so Kueue lets their pods (and namespaces) go.
    for (const ns of namespaces) {
      await c.cli.kubectlResult(['delete', 'datjobs', '--all', '--wait=false'], { namespace: ns });
      await waitFor(async () => ((await c.cli.getJson<KubeList<V1Pod>>(['pods', '-l', LABELS.jobName], { namespace: ns })).items.length === 0 ? true : undefined), {
        what: `the DATJob pods of ${ns} gone`,
        timeoutMs: 120_000,
      }).catch((err: unknown) => console.error(String(err)));
    }
    if (state.installed) await helmUninstallOperator(c.cli).catch(() => undefined);
    await c.cli.kubectlResult(['delete', 'clusterqueue', CLUSTER_QUEUE, '--ignore-not-found', '--timeout=60s']);
    await c.cleanup();
  }, { timeout: 8 * 60_000 });

  /** Job B of the first test: the one preempted in the second. */
  const shared: { bNs?: string } = {};

  test('two 3-rank jobs on a quota of 4 GPUs: one runs, the other waits with no pod bound, then runs', { timeout: TIMEOUTS.scenario }, async (t) => {
    const c = ctx();
    const [aNs, bNs] = [`e2e-kueue-a-${RUN}`, `e2e-kueue-b-${RUN}`];
    await prepareNamespace(c, aNs);
    await prepareNamespace(c, bNs);
    await c.scenario(t, aNs, 'first', async () => {
      // 144 steps: long enough to watch the second job wait. 72 steps ran 13 s once the ring got faster
      // (2026-12-04), and the second job was sampled only 4 times (5 the run before).
      await applyQueuedJob(c, aNs, 'first', PRIORITY.low, shortTraining(9600, 6));
      await waitForRunningWorker(c.cli, aNs, 'first', 0, 0, TIMEOUTS.running);
      // The example's 3 epochs took 55 s on a quiet machine: 6 leave time to preempt it mid-run in the next test.
      await applyQueuedJob(c, bNs, 'second', PRIORITY.low, { training: { epochs: 6 } });

      // While the first job runs, the second's 3 pods exist, gated by Kueue, none bound; sampled over the first's whole run.
      // (A probe's thrown error would only be retried by waitFor: violations are collected and asserted after.)
      let samples = 0;
      const violations: string[] = [];
      const first = await waitFor(
        async () => {
          const pods = await listJobPods(c.cli, bNs, 'second');
          const second = await c.cli.getJson<DATJob>(['datjob', 'second'], { namespace: bNs });
          // Read after the second job's pods: when all the first's ranks still run now, they held the quota then.
          const firstPods = await listJobPods(c.cli, aNs, 'first');
          const firstHolds = firstPods.length === RANKS && firstPods.every((p) => p.status?.phase === 'Running');
          if (pods.length === RANKS && firstHolds) {
            samples++;
            if (pods.some(isBound)) violations.push(`bound: ${pods.filter(isBound).map((p) => p.metadata?.name).join(', ')}`);
            if (!pods.every(isGated)) violations.push(`not gated: ${JSON.stringify(pods.map((p) => p.spec?.schedulingGates))}`);
            if (second.status?.phase !== 'Pending') violations.push(`phase ${second.status?.phase}`);
            if ((second.status?.conditions ?? []).some((x) => x.type === CONDITION_TYPES.unschedulable && x.status === 'True')) violations.push('reported Unschedulable');
          }
          const firstJob = await c.cli.getJson<DATJob>(['datjob', 'first'], { namespace: aNs });
          return isSucceeded(firstJob) || isFailed(firstJob) ? firstJob : undefined;
        },
        { what: `${aNs}/first finished while ${bNs}/second waits`, timeoutMs: TIMEOUTS.training, intervalMs: 2000 },
      );
      assert.ok(isSucceeded(first), `the first job Succeeded: ${JSON.stringify(first.status?.conditions)}`);
      t.diagnostic(`the waiting job was sampled ${samples} times while the first ran`);
      assert.deepEqual(violations, [], 'the waiting job stayed gated, unbound, Pending and not Unschedulable');
      assert.ok(samples >= 5, `sampled the waiting job ${samples} times (want >= 5)`);

      // The quota is free again: the second gang is admitted and runs.
      for (let r = 0; r < RANKS; r++) await waitForRunningWorker(c.cli, bNs, 'second', r, 0, TIMEOUTS.running);
      const pods = await listJobPods(c.cli, bNs, 'second');
      assert.ok(pods.every((p) => isBound(p) && !isGated(p)), 'all 3 pods of the second job are bound and ungated');
      // Start the checkpoint volume's reader pod now, so the next test reads checkpoints at once.
      await listCompleteCheckpointSteps(c.provider.volumes, bNs, c.pvcName, RANKS);
      shared.bNs = bNs;
    });
  });

  test('a higher-priority job preempts the running one, which resumes from its checkpoint with nothing lost', { timeout: TIMEOUTS.scenario }, async (t) => {
    const c = ctx();
    const bNs = shared.bNs;
    assert.ok(bNs !== undefined, 'the second job of the previous test is running');
    const cNs = `e2e-kueue-c-${RUN}`;
    await prepareNamespace(c, cNs);
    await c.scenario(t, bNs, 'second', async () => {
      const job = await c.cli.getJson<DATJob>(['datjob', 'second'], { namespace: bNs });
      // Step 1: a complete checkpoint exists and rank 0 trains past it.
      const before = await waitFor(
        async () => {
          const p = await trainingProgress(c, bNs, 'second');
          if (p === undefined) return undefined;
          const newest = (await listCompleteCheckpointSteps(c.provider.volumes, bNs, c.pvcName, RANKS))[0];
          if (newest === undefined || p.step <= newest) return undefined;
          return { checkpoint: newest, step: p.step, totalSteps: p.totalSteps };
        },
        { what: `${bNs}/second: a complete checkpoint with rank 0 past it`, timeoutMs: TIMEOUTS.training, intervalMs: FAST_POLL_MS },
      );
      // Step 2: the urgent job.
      await applyQueuedJob(c, cNs, 'urgent', PRIORITY.high, shortTraining(4800));
      t.diagnostic(`urgent job applied at step ${before.step} of the running job; newest checkpoint ${before.checkpoint}`);

      // Step 3: Kueue evicts the running gang; the operator restarts it as a preemption.
      const preempted = await waitForDATJob(c.cli, bNs, 'second', 'preempted', (j) => (j.status?.preemptions ?? 0) >= 1 || isFailed(j), TIMEOUTS.running, FAST_POLL_MS);
      const cond = preempted.status?.conditions?.find((x) => x.type === CONDITION_TYPES.restarting);
      assert.equal(cond?.reason, REASONS.preempted, JSON.stringify(preempted.status?.conditions));
      assert.match(cond?.message ?? '', /stopped by Kueue/);
      assert.equal(preempted.status?.restarts, 1);
      for (let r = 0; r < RANKS; r++) await waitForRunningWorker(c.cli, cNs, 'urgent', r, 0, TIMEOUTS.running);

      // Step 4: while the urgent job runs, the preempted gang's new pods wait in the queue, unbound.
      const waiting = await waitFor(
        async () => {
          const pods = (await listJobPods(c.cli, bNs, 'second')).filter((p) => p.metadata?.labels?.[LABELS.incarnation] === '1');
          return pods.length === RANKS ? pods : undefined;
        },
        { what: `${bNs}/second: the 3 pods of incarnation 1`, timeoutMs: TIMEOUTS.running },
      );
      assert.ok(waiting.every((p) => isGated(p) && !isBound(p)), 'the preempted job waits gated and unbound while the urgent one runs');

      const urgent = await waitForEnd(c, cNs, 'urgent');
      assert.ok(isSucceeded(urgent), `the urgent job Succeeded: ${JSON.stringify(urgent.status?.conditions)}`);

      // Step 5: readmitted, the gang resumes at its checkpoint, not from zero.
      await waitForRunningWorker(c.cli, bNs, 'second', 0, 1, TIMEOUTS.running);
      const resumed = await waitFor(() => trainingProgress(c, bNs, 'second'), { what: `${bNs}/second: first report after readmission`, timeoutMs: TIMEOUTS.training, intervalMs: FAST_POLL_MS });
      t.diagnostic(`first step after readmission: ${resumed.step}`);
      assert.ok(resumed.step >= before.checkpoint, `resumed at step ${resumed.step}, expected >= checkpoint ${before.checkpoint}`);

      // Step 6: it finishes at exactly the planned step count, the preemption not counted against backoffLimit.
      const done = await waitForEnd(c, bNs, 'second');
      assert.ok(isSucceeded(done), `the preempted job Succeeded: ${JSON.stringify(done.status?.conditions)}`);
      assert.deepEqual([done.status?.restarts, done.status?.preemptions], [1, 1]);
      const newest = (await listCompleteCheckpointSteps(c.provider.volumes, bNs, c.pvcName, RANKS))[0];
      assert.equal(newest, before.totalSteps, 'the last checkpoint is at the planned step count: no step lost or repeated');
      assert.equal(job.spec.workers.template?.spec?.priorityClassName, PRIORITY.low);
      const reasons = await listJobEventReasons(c.cli, bNs, 'second');
      assert.ok(reasons.includes(REASONS.preempted), `a Preempted event (events: ${reasons.join(', ')})`);
    });
  });
});
