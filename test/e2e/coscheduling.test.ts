/**
 * Co-scheduling without Kueue, with the real gang scheduler: scheduler-plugins'
 * Coscheduling, built from its Go module and installed into kind as a second
 * scheduler (scripts/kind/install-scheduler-plugins.sh). The node advertises 4
 * of a fake extended resource, `example.com/gpu` (patched into its status
 * capacity, as Kubernetes documents for extended resources), and a pod of the
 * default scheduler holds 2 of them.
 *
 * A 3-rank DATJob with `spec.scheduling.podGroup: {scheduler: Coscheduling}`
 * asks 1 each. Two ranks would fit one by one, so a scheduler without gang
 * semantics binds them; Coscheduling must bind none: its Permit keeps the
 * placed ranks waiting for the third, and rejects them when it cannot come.
 * When the holder goes, all 3 bind and the job succeeds. Nothing but the
 * operator requeues the gang: Coscheduling retries rejected pods only on a
 * Pod add or a PodGroup add/update (or kube-scheduler's 5-minute flush), and
 * the operator bumps its requeue annotation on the PodGroup every interval
 * while the gang is unschedulable.
 *
 * The operator is the chart's, as in kueue.test.ts (its own release,
 * installed and uninstalled here).
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { DATJob } from '../../operator/api/types.js';
import { GANG_SCHEDULER_APIS, REQUEUE_ANNOTATION, REQUEUE_INTERVAL_MS } from '../../operator/desired/pod-group.js';
import { LABELS } from '../../operator/constants.js';
import { REPO_ROOT } from '../support/paths.js';
import { runChecked } from './support/command.js';
import { isFailed, isSucceeded, listJobPods, waitForDATJob } from './support/datjob-observer.js';
import { E2EContext } from './support/e2e-context.js';
import { deriveJob } from './support/examples.js';
import type { KubeList } from './support/kube-cli.js';
import { helmInstallOperator, helmUninstallOperator } from './support/operator-release.js';
import { waitFor } from './support/poll.js';
import { startProvider } from './support/start-provider.js';

const GPU = 'example.com/gpu';
const NODE_GPUS = 4;
/** Held by another pod: 2 left, one short of the gang. */
const HELD_GPUS = 2;
const RANKS = 3;
const COSCHEDULING = GANG_SCHEDULER_APIS.Coscheduling;
/** The image of the holder pod: loaded into kind with the project's images, and it has `sleep`. */
const HOLDER_IMAGE = 'ghcr.io/dat-operator/worker:0.1.0';
/**
 * How long the gang is watched unbound: 3 times the Permit wait the install
 * configures (permitWaitingTimeSeconds 10), so the scheduler has placed,
 * held and rejected the two fitting ranks more than once.
 */
const WAIT_WINDOW_MS = 30_000;
const TIMEOUTS = { install: 15 * 60_000, pods: 2 * 60_000, training: 8 * 60_000, scenario: 20 * 60_000 } as const;
/**
 * After the holder goes, the gang must bind by the operator's next requeue of
 * its PodGroup, plus a margin for the scheduler's pod backoff, the Permit
 * wait for all 3 ranks, and the operator's and the API server's latency.
 */
const REQUEUE_BIND_MS = REQUEUE_INTERVAL_MS + 30_000;
/** Per run: a namespace of an earlier run may still be terminating. */
const RUN = Date.now().toString(36);

const state: { ctx?: E2EContext; installed: boolean } = { installed: false };

function ctx(): E2EContext {
  assert.ok(state.ctx !== undefined && state.installed, 'the cluster, the scheduler or the operator is not set up (see before())');
  return state.ctx;
}

const isBound = (p: V1Pod): boolean => (p.spec?.nodeName ?? '') !== '';

/** Patches (or, with `undefined`, removes) the fake GPUs in every node's status capacity. */
async function setNodeGpus(c: E2EContext, count: number | undefined): Promise<void> {
  const path = `/status/capacity/${GPU.replace('/', '~1')}`;
  const patch = count === undefined ? [{ op: 'remove', path }] : [{ op: 'add', path, value: String(count) }];
  for (const n of (await c.cli.getJson<KubeList<V1Node>>(['nodes'])).items) {
    await c.cli.kubectl(['patch', 'node', n.metadata?.name ?? '', '--subresource=status', '--type=json', '-p', JSON.stringify(patch)]);
  }
}

/** A pod of the default scheduler holding `HELD_GPUS`. */
function holderPod(ns: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'gpu-holder', namespace: ns },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [
        { name: 'holder', image: HOLDER_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '86400'], resources: { requests: { cpu: '10m' }, limits: { [GPU]: String(HELD_GPUS) } } },
      ],
    },
  };
}

/** The example job with 3 ranks of 1 GPU each in a Coscheduling PodGroup; a short run (one epoch over 4800 images). */
function gangJob(c: E2EContext, name: string): DATJob {
  return deriveJob(c.mnistJob, name, {
    // 100m CPU per rank: the kind node has 2 CPUs, and the operator's two replicas, the schedulers and the system pods take their share.
    workers: { replicas: RANKS, resources: { requests: { cpu: '100m' }, limits: { [GPU]: '1' } } },
    scheduling: { podGroup: { scheduler: 'Coscheduling' } },
    training: { limit: 4800, epochs: 1, schedule: { type: 'cosine', warmupEpochs: 0 }, evaluation: { everyEpochs: 1, size: 200 } },
  }).job;
}

/** Scheduling events of the job's pods, as `pod: reason: message` (what the scheduler decided, for the diagnostics). */
async function schedulingEvents(c: E2EContext, ns: string, name: string): Promise<{ reason: string; source: string; line: string }[]> {
  const events = (await c.cli.getJson<KubeList<CoreV1Event>>(['events'], { namespace: ns })).items;
  return events
    .filter((e) => e.involvedObject.kind === 'Pod' && (e.involvedObject.name ?? '').startsWith(`${name}-`))
    .map((e) => ({
      reason: e.reason ?? '',
      source: e.reportingComponent ?? e.source?.component ?? '',
      line: `${e.involvedObject.name ?? ''}: ${e.reason ?? ''}: ${e.message ?? ''}`,
    }));
}

describe('Coscheduling binds a DATJob gang all together or not at all', { timeout: 45 * 60_000 }, () => {
  before(async () => {
    const c = new E2EContext(await startProvider());
    state.ctx = c;
    // scripts/kind/cluster.sh names the kubeconfig after the cluster.
    const cluster = basename(c.provider.kubeconfigPath).replace(/\.kubeconfig$/, '');
    await runChecked('bash', [`${REPO_ROOT}/scripts/kind/install-scheduler-plugins.sh`], { env: { KIND_CLUSTER_NAME: cluster }, timeoutMs: TIMEOUTS.install });
    await setNodeGpus(c, NODE_GPUS);
    await waitFor(
      async () => ((await c.cli.getJson<KubeList<V1Node>>(['nodes'])).items.every((n) => n.status?.allocatable?.[GPU] === String(NODE_GPUS)) ? true : undefined),
      { what: `every node allocatable ${GPU}=${NODE_GPUS}`, timeoutMs: 60_000 },
    );
    await helmInstallOperator(c.cli, c.provider.helmSetValues);
    // Image tags are shared on the build host: make sure the operator running here renders PodGroups and requeues them.
    for (const needle of [COSCHEDULING.podLabel ?? '', REQUEUE_ANNOTATION]) {
      const probe = await c.cli.kubectlResult(['exec', 'deploy/dat-operator', '--', 'grep', '-c', needle, '/app/dist/operator/desired/pod-group.js'], { namespace: 'dat-system' });
      assert.equal(probe.code, 0, `the operator image lacks ${needle} in its PodGroup rendering (rebuild and load it): ${probe.stderr}`);
    }
    state.installed = true;
  }, { timeout: TIMEOUTS.install + 5 * 60_000 });

  after(async () => {
    const c = state.ctx;
    if (c === undefined) return;
    if (state.installed) await helmUninstallOperator(c.cli).catch(() => undefined);
    // The next suite patches its own capacity; leave none of ours behind.
    await setNodeGpus(c, undefined).catch(() => undefined);
    await c.cleanup();
  }, { timeout: 8 * 60_000 });

  test('3 ranks with 2 GPUs free: none bound; with 4 free: all bound and the job succeeds', { timeout: TIMEOUTS.scenario }, async (t) => {
    const c = ctx();
    const ns = `e2e-cosched-${RUN}`;
    const name = 'gang';
    await c.createNamespaceWithPvc(ns);
    await c.scenario(t, ns, name, async () => {
      // Step 1: 2 of the 4 GPUs are taken.
      await c.cli.apply({ yaml: stringify(holderPod(ns)) }, { namespace: ns });
      await c.cli.kubectl(['wait', '--for=condition=Ready', 'pod/gpu-holder', '--timeout=120s'], { namespace: ns });

      // Step 2: the gang, its PodGroup and its 3 pods, wired to the second scheduler.
      await c.cli.apply({ yaml: stringify(gangJob(c, name)) }, { namespace: ns });
      const pods = await waitFor(async () => {
        const p = await listJobPods(c.cli, ns, name);
        return p.length === RANKS ? p : undefined;
      }, { what: `${ns}/${name}: ${RANKS} worker pods`, timeoutMs: TIMEOUTS.pods });
      const group = await c.cli.getJson<{ spec?: { minMember?: number } }>([`${COSCHEDULING.plural}.${COSCHEDULING.group}`, name], { namespace: ns });
      assert.equal(group.spec?.minMember, RANKS, 'the PodGroup asks for all ranks');
      for (const p of pods) {
        assert.equal(p.spec?.schedulerName, COSCHEDULING.schedulerName, `${p.metadata?.name} runs under the second scheduler`);
        assert.equal(p.metadata?.labels?.[COSCHEDULING.podLabel ?? ''], name, `${p.metadata?.name} is in the PodGroup`);
      }

      // Step 3: over the window no rank is bound, though two would fit one by one.
      // (A probe's thrown error would only be retried by waitFor: violations are collected and asserted after.)
      let samples = 0;
      const violations: string[] = [];
      const windowEnd = Date.now() + WAIT_WINDOW_MS;
      while (Date.now() < windowEnd) {
        const now = await listJobPods(c.cli, ns, name);
        samples++;
        if (now.length !== RANKS) violations.push(`${now.length} pods`);
        if (now.some(isBound)) violations.push(`bound: ${now.filter(isBound).map((p) => `${p.metadata?.name}@${p.spec?.nodeName}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const events = await schedulingEvents(c, ns, name);
      t.diagnostic(`sampled the gang ${samples} times over ${WAIT_WINDOW_MS / 1000} s; scheduler events:\n${events.map((e) => `  [${e.source}] ${e.line}`).join('\n')}`);
      assert.deepEqual(violations, [], 'no rank of the gang was bound while only 2 GPUs were free');
      assert.ok(samples >= 10, `sampled the gang ${samples} times (want >= 10)`);
      // The real scheduler looked at the pods and refused them (not merely: no scheduler picked them up).
      assert.ok(
        events.some((e) => e.reason === 'FailedScheduling' && e.source === COSCHEDULING.schedulerName),
        `a FailedScheduling event from ${COSCHEDULING.schedulerName}`,
      );

      // The operator saw the gang unschedulable and marks the PodGroup with its requeue round.
      const marked = await waitFor(async () => {
        const g = await c.cli.getJson<{ metadata?: { annotations?: Record<string, string> } }>([`${COSCHEDULING.plural}.${COSCHEDULING.group}`, name], { namespace: ns });
        const v = g.metadata?.annotations?.[REQUEUE_ANNOTATION];
        return v !== undefined && /^\d+$/.test(v) ? v : undefined;
      }, { what: `${ns}/${name}: the PodGroup's ${REQUEUE_ANNOTATION} annotation`, timeoutMs: REQUEUE_INTERVAL_MS });
      t.diagnostic(`PodGroup ${REQUEUE_ANNOTATION}=${marked} before the holder went`);

      // Step 4: the holder goes; nothing else is touched. Ranks that Coscheduling rejected are retried
      // only on a Pod add or a PodGroup add/update (its EventsToRegister), or by kube-scheduler's
      // 5-minute flush: a freed resource alone does not requeue them (observed: none bound 180 s after
      // the holder went). The operator's next bump of the requeue annotation is the update that does.
      await c.cli.kubectl(['delete', 'pod', 'gpu-holder', '--wait=true', '--timeout=60s'], { namespace: ns });
      const freedAt = Date.now();
      const bound = await waitFor(async () => {
        const p = await listJobPods(c.cli, ns, name);
        return p.length === RANKS && p.every(isBound) ? p : undefined;
      }, { what: `${ns}/${name}: all ${RANKS} ranks bound within ${REQUEUE_BIND_MS / 1000} s of the holder going`, timeoutMs: REQUEUE_BIND_MS, intervalMs: 500 });
      const boundAfterMs = Date.now() - freedAt;
      const groupNow = await c.cli.getJson<{ metadata?: { annotations?: Record<string, string> } }>([`${COSCHEDULING.plural}.${COSCHEDULING.group}`, name], { namespace: ns });
      t.diagnostic(`all ${RANKS} ranks bound ${boundAfterMs} ms after the holder went; PodGroup ${REQUEUE_ANNOTATION}=${groupNow.metadata?.annotations?.[REQUEUE_ANNOTATION] ?? '(none)'}`);
      assert.ok(boundAfterMs <= REQUEUE_BIND_MS, `bound within ${REQUEUE_BIND_MS} ms of the holder going (took ${boundAfterMs} ms)`);
      assert.deepEqual(
        bound.map((p) => p.metadata?.labels?.[LABELS.incarnation]),
        bound.map(() => '0'),
        'the first incarnation was bound: the gang waited, it was not restarted',
      );
      const done = await waitForDATJob(c.cli, ns, name, 'finished', (j) => isSucceeded(j) || isFailed(j), TIMEOUTS.training);
      assert.ok(isSucceeded(done), `the gang job Succeeded: ${JSON.stringify(done.status?.conditions)}`);
    });
  });
});
