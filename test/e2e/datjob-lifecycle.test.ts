/**
 * End to end, the way a user meets dat-operator: `helm install` the chart,
 * `kubectl apply -f examples/datjob-mnist.yaml`, watch `kubectl get datjobs`,
 * and survive faults (a worker killed, a worker hung, the operator killed)
 * without losing progress; then `kubectl delete` and `helm uninstall` clean
 * up. Runs against whatever cluster the provider gives (DAT_E2E_PROVIDER:
 * `local`, the default, or `kind`); every check reads the DATJob's status,
 * its events and the checkpoint volume.
 *
 * The scenarios run in order and share the one operator release; each has its
 * own namespace. `helm uninstall` is last.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { DATJob } from '../../operator/api/types.js';
import { CONDITION_TYPES, LABELS, PHASES, REASONS } from '../../operator/constants.js';
import { serviceName, workerPodName } from '../../operator/names.js';
import { DEFAULT_RING_PORT, type ProgressReport } from '../../common/contract.js';
import { EXPECTED_MODEL_FILES, listCompleteCheckpointSteps, listModelFiles, readRunMetrics } from './support/checkpoints.js';
import { getDATJob, isFailed, isSucceeded, listJobEventReasons, listJobPods, listJobServices, waitForDATJob, waitForRunningWorker } from './support/datjob-observer.js';
import { E2EContext } from './support/e2e-context.js';
import { EXAMPLES } from './support/examples.js';
import type { KubeList } from './support/kube-cli.js';
import { CRD_NAME, helmInstallOperator, helmUninstallOperator, listOperatorPods, OPERATOR_REPLICAS, RELEASE, RELEASE_SELECTOR, waitForReadyOperatorPod } from './support/operator-release.js';
import { StopWaiting, waitFor } from './support/poll.js';
import { readRankZeroProgress } from './support/rank-zero-progress.js';
import { startProvider } from './support/start-provider.js';
import { getErrorMessage } from '../../common/errors.js';
import { deployPrometheus, PROMETHEUS_RELEASE_VALUES, queryPrometheus, removePrometheus, type PromSample } from './support/prometheus.js';
import { listDashboardQueries, loadDashboard, substituteVariables } from '../support/grafana-dashboard.js';

/** Budgets (ms). The example trains in ~1-2 min on 2 cores; the rest is slack for a loaded machine. */
const TIMEOUTS = {
  provider: 8 * 60_000,
  install: 5 * 60_000,
  podsRunning: 2 * 60_000,
  training: 8 * 60_000,
  cleanup: 90_000,
  scenario: 12 * 60_000,
} as const;
/** Fast polls where a scenario races the training loop (checkpoint, first step after resume). */
const FAST_POLL_MS = 250;

/** Hang scenario: the stopped worker must be noticed after this many seconds without a step. */
const HANG_DEADLINE_S = 20;
/** Node pause scenario: how long the node container stays frozen (below the example's 120 s progress deadline). */
const NODE_PAUSE_MS = 30_000;

/**
 * Prometheus scenario: Grafana's `$__rate_interval` (15 scrapes at the example
 * configuration's 2 s), and the panels whose values must be positive while a
 * job trains (a zero there would be a metric that is exported but never fed).
 */
const RATE_INTERVAL = '30s';
const POSITIVE_WHILE_TRAINING = ['Images/s per DATJob /', 'Training loss /', 'Steps/s /', 'All-reduce latency p50 / p99 /', 'Bytes on the wire /', 'Clean and robust accuracy / A'];

const ctxHolder: { ctx?: E2EContext; installed: boolean } = { installed: false };

function context(): E2EContext {
  assert.ok(ctxHolder.ctx !== undefined, 'the cluster provider did not start');
  return ctxHolder.ctx;
}

function requireOperator(): E2EContext {
  assert.ok(ctxHolder.installed, 'the operator is not installed (the helm install step failed)');
  return context();
}

/** Waits for the job to end and asserts it Succeeded (a Failed job stops the wait at once). */
async function waitForSuccess(ctx: E2EContext, ns: string, name: string): Promise<DATJob> {
  const job = await waitForDATJob(ctx.cli, ns, name, 'Succeeded', (j) => isSucceeded(j) || isFailed(j), TIMEOUTS.training);
  assert.equal(job.status?.phase, PHASES.succeeded, `job ended ${job.status?.phase}: ${JSON.stringify(job.status?.conditions)}`);
  const cond = job.status?.conditions?.find((c) => c.type === CONDITION_TYPES.succeeded);
  assert.equal(cond?.status, 'True', 'Succeeded condition is True');
  assert.ok(job.status?.completionTime !== undefined, 'completionTime is set');
  return job;
}

/**
 * Rank 0's progress report, or undefined while it is not answering; stops the
 * caller's wait when training is over (the awaited mid-run state cannot come).
 */
async function readProgressOrStop(ctx: E2EContext, ns: string, name: string): Promise<ProgressReport | undefined> {
  const p = await readRankZeroProgress(ctx.provider, ns, workerPodName(name, 0));
  if (p?.phase === 'done' || p?.phase === 'failed') throw new StopWaiting(`rank 0 of ${ns}/${name} already reports phase ${p.phase} at step ${p.step}`);
  if (p === undefined) {
    const job = await getDATJob(ctx.cli, ns, name);
    if (job !== undefined && (isSucceeded(job) || isFailed(job))) throw new StopWaiting(`${ns}/${name} already ended ${job.status?.phase}`);
  }
  return p;
}

/** Rank 0's progress once it trains and `accept` holds. */
function waitForTrainingStep(ctx: E2EContext, ns: string, name: string, accept: (p: ProgressReport) => boolean, what: string): Promise<ProgressReport> {
  return waitFor(
    async () => {
      const p = await readProgressOrStop(ctx, ns, name);
      return p !== undefined && p.phase === 'training' && accept(p) ? p : undefined;
    },
    { what: `${ns}/${name} rank 0: ${what}`, timeoutMs: TIMEOUTS.training, intervalMs: FAST_POLL_MS },
  );
}

/**
 * The checkpoint volume's run output: metrics.json with accuracies, the model
 * files, and a final checkpoint at `totalSteps` (taken from rank 0's own
 * report during the run, not from the status, which the operator fills by polling).
 */
async function assertRunOutput(ctx: E2EContext, ns: string, job: DATJob, totalSteps: number): Promise<void> {
  const metrics = await readRunMetrics(ctx.provider.volumes, ns, ctx.pvcName);
  assert.ok(metrics !== undefined, 'output/metrics.json is on the checkpoint volume');
  assert.ok(metrics.cleanAccuracy >= 0 && metrics.cleanAccuracy <= 1, `metrics.json cleanAccuracy ${metrics.cleanAccuracy}`);
  assert.ok(metrics.robustAccuracy >= 0 && metrics.robustAccuracy <= 1, `metrics.json robustAccuracy ${metrics.robustAccuracy}`);
  assert.equal(metrics.workers, job.spec.workers.replicas, 'metrics.json records the ring size');
  const modelFiles = await listModelFiles(ctx.provider.volumes, ns, ctx.pvcName);
  for (const f of EXPECTED_MODEL_FILES) assert.ok(modelFiles.includes(f), `output/model/${f} is on the volume (found ${modelFiles.join(', ')})`);
  const steps = await listCompleteCheckpointSteps(ctx.provider.volumes, ns, ctx.pvcName, job.spec.workers.replicas);
  assert.ok(steps.length > 0, 'at least one complete checkpoint is on the volume');
  assert.equal(steps[0], totalSteps, 'the newest checkpoint is the last step (written at the last epoch end)');
}

/** The operator pod holding the leader-election Lease (the chart's `<release>-leader`). */
async function readLeaseHolder(ctx: E2EContext): Promise<string | undefined> {
  const lease = await ctx.cli.getJsonIfExists<{ spec?: { holderIdentity?: string } }>(['lease', `${RELEASE.name}-leader`], { namespace: RELEASE.namespace });
  const holder = lease?.spec?.holderIdentity;
  return holder === undefined || holder === '' ? undefined : holder;
}

/**
 * Whether an instant query's answer counts as the panel showing data: at least
 * one series, every value a number (not NaN), the job's own series where the
 * query selects a job, and a positive value where training must move it.
 */
function hasDashboardData(where: string, expr: string, samples: readonly PromSample[], jobName: string): boolean {
  if (samples.length === 0 || !samples.every((s) => Number.isFinite(s.value))) return false;
  if (expr.includes(`datjob=~"${jobName}"`) && !samples.every((s) => s.metric.datjob === undefined || s.metric.datjob === jobName)) return false;
  if (POSITIVE_WHILE_TRAINING.some((p) => where.startsWith(p)) && !samples.every((s) => s.value > 0)) return false;
  if (where.startsWith('DATJobs by phase /') && !samples.some((s) => s.metric.phase === PHASES.running && s.value >= 1)) return false;
  return true;
}

function formatSamples(samples: readonly PromSample[]): string {
  return samples.map((s) => `${JSON.stringify(s.metric)} ${s.value}`).join(', ');
}

describe('dat-operator end to end', { timeout: 60 * 60_000 }, () => {
  before(async () => {
    ctxHolder.ctx = new E2EContext(await startProvider());
  }, { timeout: TIMEOUTS.provider });

  after(async () => {
    await ctxHolder.ctx?.cleanup();
  }, { timeout: 2 * 60_000 });

  test('helm install deploys the operator as a pod of the release, with the CRD', { timeout: TIMEOUTS.install }, async (t) => {
    const ctx = context();
    const started = Date.now();
    // Scraped by the suite's Prometheus (scenario i), with the Grafana dashboard shipped.
    await helmInstallOperator(ctx.cli, [...ctx.provider.helmSetValues, ...PROMETHEUS_RELEASE_VALUES]);
    const pods = await listOperatorPods(ctx.cli);
    assert.equal(pods.length, OPERATOR_REPLICAS, `${OPERATOR_REPLICAS} operator replicas (leader and standby)`);
    const op = await waitForReadyOperatorPod(ctx.cli, [], TIMEOUTS.install);
    assert.match(await ctx.cli.kubectl(['get', 'pods'], { namespace: RELEASE.namespace }), /dat-operator-\S+\s+1\/1\s+Running/, 'kubectl get pods -n dat-system');
    assert.equal(op.spec?.containers[0]?.command?.[0], 'dat-operator', 'the pod runs the chart command');
    const crd = await ctx.cli.getJsonIfExists<{ metadata: { name: string } }>(['crd', CRD_NAME]);
    assert.equal(crd?.metadata.name, CRD_NAME);
    // Both examples are valid DATJobs for the real API server (schema, defaults, CEL rules).
    await ctx.cli.apply({ file: EXAMPLES.mnist }, { namespace: 'default', dryRun: 'server' });
    await ctx.cli.apply({ file: EXAMPLES.gpuResnet }, { namespace: 'default', dryRun: 'server' });
    ctxHolder.installed = true;
    t.diagnostic(`helm install took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  test('(a) kubectl apply -f examples/datjob-mnist.yaml trains to Succeeded with accuracy in the status', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-mnist';
    const name = ctx.mnistJob.metadata.name ?? '';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      await ctx.cli.apply({ file: EXAMPLES.mnist }, { namespace: ns });
      await waitForRunningWorker(ctx.cli, ns, name, 0, 0, TIMEOUTS.podsRunning);
      const running = await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 1, 'step >= 1');
      // The image's `dat` command (the pod's command) starts node with the workers' flags.
      const ringStart = (await ctx.provider.podLogs(ns, workerPodName(name, 0))).split('\n').find((l) => l.includes('Started ring server'));
      assert.match(ringStart ?? '', /incrementalMarking=false/, `rank 0's ring start line: ${ringStart}`);
      const table = await ctx.cli.kubectl(['get', 'datjobs'], { namespace: ns });
      for (const col of ['PHASE', 'READY', 'EPOCH', 'ROBUST-ACC', 'RESTARTS', 'AGE']) assert.match(table, new RegExp(col), `kubectl get datjobs shows ${col}`);
      assert.match(table, new RegExp(`^${name}\\s`, 'm'));

      const job = await waitForSuccess(ctx, ns, name);
      // The commands docs/cluster.md shows for a finished job.
      const done = await ctx.cli.kubectl(['get', 'datjobs'], { namespace: ns });
      assert.match(done, new RegExp(`^${name}\\s+Succeeded\\s`, 'm'), `kubectl get datjobs shows Succeeded:\n${done}`);
      const described = await ctx.cli.kubectl(['describe', 'datjob', name], { namespace: ns });
      assert.match(described, new RegExp(REASONS.allWorkersSucceeded), 'kubectl describe shows the events');
      const progressText = await ctx.cli.kubectl(['get', 'datjob', name, '-o', 'jsonpath={.status.progress}'], { namespace: ns });
      const progress = JSON.parse(progressText) as NonNullable<NonNullable<DATJob['status']>['progress']>;
      t.diagnostic(`kubectl get datjobs:\n${done}status.progress: ${progressText}`);
      assert.ok(typeof progress.robustAccuracy === 'number' && progress.robustAccuracy >= 0 && progress.robustAccuracy <= 1, `robustAccuracy ${progress.robustAccuracy}`);
      assert.ok(typeof progress.cleanAccuracy === 'number' && progress.cleanAccuracy > 0.5, `cleanAccuracy ${progress.cleanAccuracy} shows the model learned`);
      assert.equal(progress.epoch, job.spec.training.epochs, 'all epochs ran');
      assert.equal(progress.step, progress.totalSteps, 'every optimizer step ran');
      assert.equal(job.status?.restarts ?? 0, 0, 'no gang restart');
      assert.equal(job.status?.workers?.succeeded, job.spec.workers.replicas, 'every worker succeeded');

      const reasons = await listJobEventReasons(ctx.cli, ns, name);
      assert.ok(reasons.includes(REASONS.jobCreated), `events: ${reasons.join(', ')}`);
      assert.ok(reasons.includes(REASONS.allWorkersSucceeded), `events: ${reasons.join(', ')}`);
      await assertRunOutput(ctx, ns, job, running.totalSteps);
      t.diagnostic(`clean ${progress.cleanAccuracy} robust ${progress.robustAccuracy} steps ${progress.step}`);
    });
  });

  /** A fault that ends one worker mid-epoch; the operator must restart the gang from the last checkpoint. */
  // `graceful`: the kubelet's SIGTERM lets the gang save a checkpoint at the next step boundary, so the
  // restart resumes at or after the step seen before the fault, not at the last periodic checkpoint.
  const GANG_FAULTS = [
    { id: 'b', what: 'a worker SIGKILLed mid-epoch', name: 'mnist-kill', graceful: false, inject: (ctx: E2EContext, ns: string, pod: string) => ctx.provider.signalPod(ns, pod, 'SIGKILL') },
    { id: 'b2', what: 'a worker pod deleted mid-epoch', name: 'mnist-delete-pod', graceful: true, inject: (ctx: E2EContext, ns: string, pod: string) => ctx.cli.kubectl(['delete', 'pod', pod, '--wait=false'], { namespace: ns }).then(() => undefined) },
  ] as const;

  for (const fault of GANG_FAULTS) {
    test(`(${fault.id}) ${fault.what}: the gang restarts from the last checkpoint and Succeeds`, { timeout: TIMEOUTS.scenario }, async (t) => {
      const ctx = requireOperator();
      const ns = `e2e-${fault.name}`;
      const name = fault.name;
      await ctx.scenario(t, ns, name, async () => {
        await ctx.createNamespaceWithPvc(ns);
        // Twice the example's epochs: on a loaded 2-core node the example's ~30 s of training
        // could end before a poll saw rank 0 past a checkpoint, leaving no moment for the fault.
        const spec = await ctx.applyDerivedJob(ns, name, { training: { epochs: 6 } });
        const world = spec.spec.workers.replicas;
        // The example's first periodic checkpoint: far enough from step 0 that a restart from
        // scratch cannot reach it before the first poll of the new gang.
        const minResumeStep = spec.spec.checkpoint.everySteps ?? 1;
        await waitForRunningWorker(ctx.cli, ns, name, 0, 0, TIMEOUTS.podsRunning);

        // Step 1: a complete checkpoint exists and rank 0 has moved past it, inside an epoch.
        const before = await waitFor(
          async () => {
            const p = await readProgressOrStop(ctx, ns, name);
            if (p?.phase !== 'training') return undefined;
            const newest = (await listCompleteCheckpointSteps(ctx.provider.volumes, ns, ctx.pvcName, world))[0];
            const perEpoch = p.totalSteps / p.totalEpochs;
            if (newest === undefined || newest < minResumeStep || p.step <= newest || p.step % perEpoch === 0) return undefined;
            return { checkpoint: newest, step: p.step, totalSteps: p.totalSteps };
          },
          { what: `${ns}/${name}: a complete checkpoint at step >= ${minResumeStep} on the volume with rank 0 past it`, timeoutMs: TIMEOUTS.training, intervalMs: FAST_POLL_MS },
        );
        // Step 2: the fault, on rank 1, with rank 0's log followed until its container ends.
        const rank0Log = ctx.cli.kubectlResult(['logs', '-f', workerPodName(name, 0)], { namespace: ns, timeoutMs: TIMEOUTS.podsRunning });
        await fault.inject(ctx, ns, workerPodName(name, 1));
        t.diagnostic(`${fault.what} (rank 1) at step ${before.step}; newest checkpoint ${before.checkpoint}`);

        // Step 3: the operator restarts the whole gang.
        const restarting = await waitForDATJob(ctx.cli, ns, name, 'restarts = 1', (j) => (j.status?.restarts ?? 0) >= 1 || isFailed(j), TIMEOUTS.podsRunning, FAST_POLL_MS);
        assert.equal(restarting.status?.restarts, 1, 'one gang restart');
        await waitForRunningWorker(ctx.cli, ns, name, 0, 1, TIMEOUTS.podsRunning);
        const pods = await listJobPods(ctx.cli, ns, name);
        assert.ok(
          pods.every((p) => p.metadata?.labels?.[LABELS.incarnation] === '1' || p.metadata?.deletionTimestamp !== undefined || p.status?.phase !== 'Running'),
          'no pod of the first incarnation keeps running',
        );

        // Step 4: the new gang's first training report starts at the checkpoint, not at zero.
        const resumed = await waitForTrainingStep(ctx, ns, name, () => true, 'first training report after the restart');
        // The new rank 0 logs the checkpoint it resumed from before its first training report.
        const resumeLine = (await ctx.provider.podLogs(ns, workerPodName(name, 0))).split('\n').find((l) => l.includes('Resumed from checkpoint'));
        const resumedFrom = Number(/ step=(\d+)/.exec(resumeLine ?? '')?.[1]);
        t.diagnostic(`first step reported after the restart: ${resumed.step}; resumed from the checkpoint at step ${resumedFrom}`);
        assert.ok(resumedFrom >= before.checkpoint, `resumed from step ${resumedFrom}, expected >= checkpoint ${before.checkpoint} (not from zero): ${resumeLine}`);
        if (fault.graceful) {
          // The old rank 0 stopped with its peer at one step boundary and saved there; the new gang resumed from exactly that step.
          const stopLine = (await rank0Log).stdout.split('\n').find((l) => l.includes('Stopped at a step boundary after a stop signal'));
          const stoppedAt = Number(/ step=(\d+)/.exec(stopLine ?? '')?.[1]);
          t.diagnostic(`the old gang stopped at step ${stoppedAt} after the SIGTERM`);
          assert.ok(stoppedAt >= before.step, `the old rank 0 logs a stop at a step >= ${before.step}: ${stopLine ?? '(no such line)'}`);
          assert.equal(resumedFrom, stoppedAt, 'the restart resumes from the checkpoint saved at the stop');
        }

        // Step 5: it still finishes, with exactly the planned number of steps: the final
        // checkpoint (written at the last step) is at totalSteps, counted across the restart.
        const job = await waitForSuccess(ctx, ns, name);
        assert.equal(job.status?.restarts, 1, 'exactly one gang restart');
        const newest = (await listCompleteCheckpointSteps(ctx.provider.volumes, ns, ctx.pvcName, world))[0];
        assert.equal(newest, before.totalSteps, 'the last checkpoint is at the planned step count: no step lost or repeated');
        const reasons = await listJobEventReasons(ctx.cli, ns, name);
        assert.ok(reasons.includes(REASONS.workerFailed), `a WorkerFailed event (events: ${reasons.join(', ')})`);
        await assertRunOutput(ctx, ns, job, before.totalSteps);
      });
    });
  }

  test('(c) a worker stopped with SIGSTOP is caught by progressDeadlineSeconds and the gang restarts', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-hang';
    const name = 'mnist-hang';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      // A long all-reduce deadline: rank 0 waits on the stopped peer instead of failing, so only the
      // progress deadline can notice the hang (the case no other training operator detects).
      await ctx.applyDerivedJob(ns, name, {
        training: { collectiveTimeoutMs: 10 * 60_000 },
        runPolicy: { progressDeadlineSeconds: HANG_DEADLINE_S },
      });
      await waitForRunningWorker(ctx.cli, ns, name, 1, 0, TIMEOUTS.podsRunning);
      const atStop = await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 2, 'step >= 2');
      await ctx.provider.signalPod(ns, workerPodName(name, 1), 'SIGSTOP');
      const stoppedAt = Date.now();
      t.diagnostic(`stopped rank 1 at step ${atStop.step}`);

      const restarted = await waitForDATJob(ctx.cli, ns, name, 'restarts = 1', (j) => (j.status?.restarts ?? 0) >= 1 || isFailed(j), HANG_DEADLINE_S * 1000 + 90_000, FAST_POLL_MS);
      const detectedAfterS = (Date.now() - stoppedAt) / 1000;
      t.diagnostic(`hang detected and the gang restarted ${detectedAfterS.toFixed(1)} s after SIGSTOP`);
      assert.equal(restarted.status?.restarts, 1);
      // Only the deadline could have fired: the ring waits 10 minutes, and the stall was at least the deadline long (less a step).
      assert.ok(detectedAfterS >= HANG_DEADLINE_S / 2, `restart came ${detectedAfterS} s after the stop, before the ${HANG_DEADLINE_S} s deadline could expire`);
      const reasons = await listJobEventReasons(ctx.cli, ns, name);
      assert.ok(reasons.includes(REASONS.progressDeadlineExceeded), `a ProgressDeadlineExceeded event (events: ${reasons.join(', ')})`);

      const job = await waitForSuccess(ctx, ns, name);
      assert.equal(job.status?.restarts, 1, 'exactly one gang restart');
      await assertRunOutput(ctx, ns, job, atStop.totalSteps);
    });
  });

  test('(d) the leader operator pod killed mid-job: the standby takes the lease and the job completes', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-operator-kill';
    const name = 'mnist-operator-kill';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      const spec = await ctx.applyDerivedJob(ns, name, {});
      const running = await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 1, 'step >= 1');
      const leader = await readLeaseHolder(ctx);
      const standby = (await listOperatorPods(ctx.cli)).map((p) => p.metadata?.name ?? '').find((n) => n !== leader);
      assert.ok(leader !== undefined && standby !== undefined, `a leader (${leader}) and a standby (${standby}) run`);
      // Force deletion: the pod is gone at once, as with a lost node.
      const killedAt = Date.now();
      await ctx.cli.kubectl(['delete', 'pod', leader, '--grace-period=0', '--force'], { namespace: RELEASE.namespace });
      const newLeader = await waitFor(async () => ((await readLeaseHolder(ctx)) === standby ? standby : undefined), {
        what: `the standby ${standby} holding the leader lease`,
        timeoutMs: TIMEOUTS.podsRunning,
      });
      t.diagnostic(`leader ${leader} killed; standby ${newLeader} took the lease after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
      await waitForReadyOperatorPod(ctx.cli, [leader, standby], TIMEOUTS.podsRunning);

      const job = await waitForSuccess(ctx, ns, name);
      assert.equal(job.status?.restarts ?? 0, 0, 'the operator restart did not restart the gang');
      const pods = await listJobPods(ctx.cli, ns, name);
      assert.equal(pods.length, spec.spec.workers.replicas, `no duplicate worker pods (${pods.map((p) => p.metadata?.name).join(', ')})`);
      const reasons = await listJobEventReasons(ctx.cli, ns, name);
      assert.ok(reasons.includes(REASONS.allWorkersSucceeded), `events: ${reasons.join(', ')}`);
      await assertRunOutput(ctx, ns, job, running.totalSteps);
    });
  });

  test('(g) NetworkPolicy: the ring port admits the job\'s own ranks only', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-netpol';
    const name = 'mnist-netpol';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      // Long enough that the ring is up for every probe below; deleted afterwards.
      await ctx.applyDerivedJob(ns, name, { training: { epochs: 20 } });
      await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 1, 'step >= 1');
      const rank0 = (await listJobPods(ctx.cli, ns, name)).find((p) => p.metadata?.labels?.[LABELS.rank] === '0');
      const ip = rank0?.status?.podIP;
      assert.ok(ip !== undefined, 'rank 0 has a pod IP');
      const port = DEFAULT_RING_PORT;

      const own = await ctx.provider.probeFromPod(ns, workerPodName(name, 1), ip, port);
      t.diagnostic(`rank 1 -> rank 0 ${ip}:${port}: ${own.detail}`);
      assert.ok(own.connected, `the job's own rank 1 reaches rank 0's ring port (${own.detail})`);

      const strangers: { pod: string; labels: Record<string, string> }[] = [
        { pod: 'probe-unlabelled', labels: {} },
        { pod: 'probe-other-job', labels: { [LABELS.jobName]: 'another-job', [LABELS.rank]: '0', [LABELS.managedBy]: 'dat-operator' } },
      ];
      for (const s of strangers) {
        await ctx.provider.startProbePod(ns, s.pod, s.labels);
        if (s.pod === 'probe-unlabelled') {
          // CoreDNS serves the job's headless Service: rank 0's stable name resolves to its pod IP.
          const fqdn = `${workerPodName(name, 0)}.${serviceName(name)}.${ns}.svc.cluster.local`;
          const resolved = await ctx.provider.lookupFromPod(ns, s.pod, fqdn);
          t.diagnostic(`${fqdn} -> ${resolved}`);
          assert.equal(resolved, ip, `CoreDNS resolves ${fqdn} to rank 0's pod IP`);
        }
        const r = await ctx.provider.probeFromPod(ns, s.pod, ip, port);
        t.diagnostic(`${s.pod} -> rank 0 ${ip}:${port}: ${r.detail}`);
        assert.equal(r.connected, false, `${s.pod} must not reach the ring port (${r.detail})`);
      }
      // The policy is what blocks them: the port itself answers the job's own ranks (above).
      await ctx.cli.kubectl(['delete', 'datjob', name, '--wait=false'], { namespace: ns });
    });
  });

  test('(h) the node container paused (docker pause) mid-job: the job resumes and Succeeds', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-node-pause';
    const name = 'mnist-node-pause';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      const spec = await ctx.applyDerivedJob(ns, name, {});
      const atPause = await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 2, 'step >= 2');
      // Everything on the node freezes at once (API server, kubelet, both ranks), as a VM pause would.
      await ctx.provider.pauseNodeOf(ns, workerPodName(name, 0), NODE_PAUSE_MS);
      t.diagnostic(`node paused for ${NODE_PAUSE_MS / 1000} s at step ${atPause.step}`);

      const job = await waitForSuccess(ctx, ns, name);
      const restarts = job.status?.restarts ?? 0;
      t.diagnostic(`after the pause: Succeeded with ${restarts} gang restart(s)`);
      // docs/cluster.md: a pause shorter than the collective timeout and progressDeadlineSeconds
      // is survived with no restart; a longer one costs at most a gang restart from the checkpoint.
      assert.ok(restarts <= 1, `at most one gang restart after a pause (got ${restarts})`);
      assert.equal(job.status?.workers?.succeeded, spec.spec.workers.replicas, 'every worker succeeded');
      await assertRunOutput(ctx, ns, job, atPause.totalSteps);
    });
  });

  test('(i) a real Prometheus scrapes the operator and the workers: every query of the chart\'s Grafana dashboard returns data during a DATJob', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-prometheus';
    const name = 'mnist-prometheus';
    await ctx.scenario(t, ns, name, async () => {
      try {
        await deployPrometheus(ctx.cli);
        // The dashboard as the release shipped it: the ConfigMap Grafana's sidecar loads.
        const cm = await ctx.cli.getJson<V1ConfigMap>(['configmap', `${RELEASE.name}-dashboard`], { namespace: RELEASE.namespace });
        const text = cm.data?.['dat-operator.json'];
        assert.ok(text !== undefined, 'the release ships the dashboard ConfigMap');
        assert.equal(cm.metadata?.labels?.grafana_dashboard, '1', 'labelled for the sidecar');
        const values = { namespace: ns, datjob: name, __rate_interval: RATE_INTERVAL };
        const queries = listDashboardQueries(loadDashboard(text)).map((q) => ({ where: q.where, expr: substituteVariables(q.expr, values) }));

        await ctx.createNamespaceWithPvc(ns);
        // Long enough to be queried mid-run (deleted afterwards); evaluated every epoch so the accuracy panels fill early.
        await ctx.applyDerivedJob(ns, name, { training: { epochs: 20, evaluation: { everyEpochs: 1, size: 100, attackSteps: 2 } } });
        await waitForTrainingStep(ctx, ns, name, (p) => p.step >= 1, 'step >= 1');
        const started = Date.now();
        const seen = new Map<string, PromSample[]>();
        /** The last answer (or error) of each query still waiting, for the timeout message. */
        const last = new Map<string, string>();
        await waitFor(
          async () => {
            await readProgressOrStop(ctx, ns, name);
            for (const q of queries) {
              if (seen.has(q.where)) continue;
              // One failing query must not keep the others from being asked.
              const samples = await queryPrometheus(ctx.provider, q.expr).catch((err: unknown) => {
                last.set(q.where, `error: ${getErrorMessage(err)}`);
                return undefined;
              });
              if (samples === undefined) continue;
              last.set(q.where, samples.length === 0 ? 'no series' : formatSamples(samples));
              if (hasDashboardData(q.where, q.expr, samples, name)) {
                seen.set(q.where, samples);
                t.diagnostic(`${((Date.now() - started) / 1000).toFixed(0)} s ${q.where}: ${formatSamples(samples)}`);
              }
            }
            return seen.size === queries.length ? true : undefined;
          },
          {
            what: `every dashboard query to return data for ${ns}/${name}`,
            timeoutMs: TIMEOUTS.training,
            intervalMs: 2_000,
            describe: async () => queries.filter((q) => !seen.has(q.where)).map((q) => `${q.where}: ${q.expr} -> ${last.get(q.where) ?? 'not asked'}`).join('\n'),
          },
        );
        assert.equal(seen.size, queries.length);
        await ctx.cli.kubectl(['delete', 'datjob', name, '--wait=false'], { namespace: ns });
      } finally {
        await removePrometheus(ctx.cli);
      }
    });
  });

  test('(e) kubectl delete datjob removes its pods and Service and keeps the volume', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const ns = 'e2e-delete';
    const name = 'mnist-delete';
    await ctx.scenario(t, ns, name, async () => {
      await ctx.createNamespaceWithPvc(ns);
      await ctx.applyDerivedJob(ns, name, {});
      await waitForRunningWorker(ctx.cli, ns, name, 1, 0, TIMEOUTS.podsRunning);
      const services = await listJobServices(ctx.cli, ns, name);
      assert.deepEqual(services.map((s) => s.metadata?.name), [serviceName(name)], 'the headless Service exists');
      const reasons = await listJobEventReasons(ctx.cli, ns, name);
      assert.ok(reasons.includes(REASONS.jobCreated), `events: ${reasons.join(', ')}`);

      await ctx.cli.kubectl(['delete', 'datjob', name], { namespace: ns, timeoutMs: TIMEOUTS.cleanup });
      await waitFor(
        async () => ((await listJobPods(ctx.cli, ns, name)).length === 0 && (await listJobServices(ctx.cli, ns, name)).length === 0 ? true : undefined),
        { what: `${ns}/${name}'s pods and Service deleted`, timeoutMs: TIMEOUTS.cleanup },
      );
      const pvc = await ctx.cli.getJsonIfExists(['pvc', ctx.pvcName], { namespace: ns });
      assert.ok(pvc !== undefined, 'the checkpoint PVC (user data) is kept');
      // The user's last clean-up step of docs/cluster.md.
      await ctx.cli.kubectl(['delete', '-f', EXAMPLES.pvc, '--wait=false'], { namespace: ns });
    });
  });

  test('(f) helm uninstall leaves nothing behind but the CRD', { timeout: TIMEOUTS.scenario }, async (t) => {
    const ctx = requireOperator();
    const started = Date.now();
    await helmUninstallOperator(ctx.cli);
    await waitFor(async () => ((await listOperatorPods(ctx.cli)).length === 0 ? true : undefined), { what: 'operator pods gone', timeoutMs: TIMEOUTS.cleanup });
    const kinds = 'all,serviceaccounts,roles,rolebindings,configmaps,secrets,leases';
    const listLeftovers = async (): Promise<string[]> => {
      const left = await ctx.cli.getJson<KubeList<{ kind: string; metadata: { name: string } }>>([kinds], { namespace: RELEASE.namespace });
      // What every namespace has regardless of Helm: its default ServiceAccount and root CA bundle.
      return left.items
        .filter((o) => !(o.kind === 'ServiceAccount' && o.metadata.name === 'default') && !(o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt'))
        .map((o) => `${o.kind}/${o.metadata.name}`);
    };
    // The garbage collector removes the ReplicaSet and pods in the background: give it a moment.
    await waitFor(async () => ((await listLeftovers()).length === 0 ? true : undefined), { what: 'the release namespace emptied', timeoutMs: 30_000 }).catch(() => undefined);
    assert.deepEqual(await listLeftovers(), [], `nothing left in ${RELEASE.namespace}`);
    const clusterLeft = await ctx.cli.getJson<KubeList<{ kind: string; metadata: { name: string } }>>(['clusterroles,clusterrolebindings', '-l', RELEASE_SELECTOR]);
    assert.deepEqual(clusterLeft.items.map((o) => `${o.kind}/${o.metadata.name}`), [], 'no cluster-scoped leftovers');
    const anywhere = await ctx.cli.getJson<KubeList<{ kind: string; metadata: { name: string; namespace?: string } }>>([kinds, '-A', '-l', RELEASE_SELECTOR]);
    assert.deepEqual(anywhere.items.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`), [], 'no labelled leftovers in any namespace');
    const crd = await ctx.cli.getJsonIfExists(['crd', CRD_NAME]);
    assert.ok(crd !== undefined, 'the CRD stays (Helm never deletes CRDs, so DATJobs and their data survive)');
    t.diagnostic(`helm uninstall took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
