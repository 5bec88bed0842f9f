import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1NetworkPolicy, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { DATJob, DATJobStatus } from '../../operator/api/types.js';
import type { ClusterWriter } from '../../operator/apply.js';
import { buildMergePatch } from '../../operator/merge-patch.js';
import { ApiError } from '../../operator/api-error.js';
import { Reconciler, computeRetryDelayMs, selectPodsToClean, type ClusterReader, type ReconcilerOptions } from '../../operator/reconciler.js';
import { createJobCa } from '../../common/certs.js';
import { DatError } from '../../common/errors.js';
import type { StatusEvent } from '../../operator/status.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';
import { makePod } from './_pods.js';
import type { PodGroupObject } from '../../operator/desired/pod-group.js';

/** An in-memory cluster: the reader sees exactly what the writer wrote (an ideal cache). */
class FakeCluster implements ClusterReader, ClusterWriter {
  jobs = new Map<string, DATJob>();
  pods = new Map<string, V1Pod>();
  services = new Map<string, V1Service>();
  secrets = new Map<string, V1Secret>();
  policies = new Map<string, V1NetworkPolicy>();
  events: StatusEvent[] = [];
  calls: string[] = [];
  private rv = 1;

  put(job: DATJob): void {
    this.jobs.set(job.metadata.name!, { ...job, metadata: { ...job.metadata, resourceVersion: String(++this.rv) } });
  }
  /** When set, the "cache" serves these instead of the stored objects (a lagging informer). */
  lagJob: DATJob | undefined;
  lagPods: Map<string, V1Pod> | undefined;
  getJob(_ns: string, name: string): DATJob | undefined {
    return this.lagJob ?? this.jobs.get(name);
  }
  listPods(_ns: string, jobName: string): V1Pod[] {
    return [...(this.lagPods ?? this.pods).values()].filter((p) => p.metadata?.labels?.['dat-operator.io/job-name'] === jobName);
  }
  getService(_ns: string, name: string): V1Service | undefined {
    return this.services.get(name);
  }
  /** When set, every pod create fails with it (what an admission plugin or the API server answers). */
  podError: Error | undefined;
  secretError: Error | undefined;
  /** Every Secret sent to createSecret, in order (refused ones too). */
  sentSecrets: V1Secret[] = [];
  createPod(pod: V1Pod): Promise<boolean> {
    this.calls.push(`create pod ${pod.metadata!.name!}`);
    if (this.podError !== undefined) return Promise.reject(this.podError);
    if (this.pods.has(pod.metadata!.name!)) return Promise.resolve(false);
    this.pods.set(pod.metadata!.name!, pod);
    return Promise.resolve(true);
  }
  /** The grace each deleted pod was deleted with (undefined: its own). */
  deleteGrace = new Map<string, number | undefined>();
  deletePod(_ns: string, name: string, gracePeriodSeconds?: number): Promise<void> {
    this.calls.push(`delete pod ${name}`);
    this.deleteGrace.set(name, gracePeriodSeconds);
    this.pods.delete(name);
    return Promise.resolve();
  }
  podGroups: PodGroupObject[] = [];
  /** As the API server: create, or merge the annotations into the existing group. */
  applyPodGroup(group: PodGroupObject): Promise<void> {
    const i = this.podGroups.findIndex((g) => g.metadata.name === group.metadata.name);
    if (i < 0) {
      this.calls.push(`create podgroup ${group.metadata.name}`);
      this.podGroups.push(group);
    } else if (group.metadata.annotations !== undefined) {
      this.calls.push(`annotate podgroup ${group.metadata.name} ${JSON.stringify(group.metadata.annotations)}`);
      const old = this.podGroups[i]!;
      this.podGroups[i] = { ...old, metadata: { ...old.metadata, annotations: { ...old.metadata.annotations, ...group.metadata.annotations } } };
    }
    return Promise.resolve();
  }
  patchPodAnnotations(_ns: string, name: string, annotations: Readonly<Record<string, string>>): Promise<void> {
    this.calls.push(`annotate pod ${name} ${JSON.stringify(annotations)}`);
    const pod = this.pods.get(name);
    if (pod !== undefined) pod.metadata!.annotations = { ...pod.metadata!.annotations, ...annotations };
    return Promise.resolve();
  }
  createService(svc: V1Service): Promise<void> {
    this.calls.push(`create service ${svc.metadata!.name!}`);
    this.services.set(svc.metadata!.name!, svc);
    return Promise.resolve();
  }
  createSecret(secret: V1Secret): Promise<boolean> {
    this.sentSecrets.push(secret);
    if (this.secretError !== undefined) return Promise.reject(this.secretError);
    if (this.secrets.has(secret.metadata!.name!)) return Promise.resolve(false);
    this.calls.push(`create secret ${secret.metadata!.name!}`);
    this.secrets.set(secret.metadata!.name!, secret);
    return Promise.resolve(true);
  }
  deleteSecret(_ns: string, name: string): Promise<void> {
    if (this.secrets.delete(name)) this.calls.push(`delete secret ${name}`);
    return Promise.resolve();
  }
  createNetworkPolicy(policy: V1NetworkPolicy): Promise<void> {
    this.policies.set(policy.metadata!.name!, policy);
    return Promise.resolve();
  }
  patchJobStatus(job: DATJob, status: DATJobStatus): Promise<DATJob> {
    const stored = this.jobs.get(job.metadata.name!)!;
    if (stored.metadata.resourceVersion !== job.metadata.resourceVersion) return Promise.reject(new Error('409 conflict'));
    // Round-trip through a merge patch, as the API server applies it.
    const patch = buildMergePatch(stored.status ?? {}, status);
    const merged = applyMerge(stored.status ?? {}, patch) as DATJobStatus;
    this.calls.push('patch status');
    this.put({ ...stored, status: merged });
    return Promise.resolve(this.jobs.get(job.metadata.name!)!);
  }
  deleteJob(_ns: string, name: string): Promise<void> {
    this.calls.push(`delete job ${name}`);
    this.jobs.delete(name);
    return Promise.resolve();
  }
  emitEvent(_job: DATJob, ev: StatusEvent): Promise<void> {
    this.events.push(ev);
    return Promise.resolve();
  }
  /** Sets the observed state of a pod (what the kubelet would report). */
  setPod(name: string, state: Parameters<typeof makePod>[2]): void {
    const pod = this.pods.get(name)!;
    const job = this.jobs.values().next().value!;
    const rank = Number(pod.metadata!.labels!['dat-operator.io/rank']);
    const fresh = makePod(job, rank, { ...state, incarnation: Number(pod.metadata!.labels!['dat-operator.io/incarnation']) });
    this.pods.set(name, { ...pod, status: fresh.status });
  }
}

function applyMerge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = applyMerge(out[k], v);
  }
  return out;
}

function setup(job: DATJob, start = '2026-01-01T00:00:00.000Z'): { cluster: FakeCluster; r: Reconciler; clock: { t: number } } {
  const cluster = new FakeCluster();
  cluster.put(job);
  const clock = { t: Date.parse(start) };
  const r = new Reconciler({ reader: cluster, writer: cluster, now: () => new Date(clock.t) });
  return { cluster, r, clock };
}

const phase = (c: FakeCluster): string | undefined => c.jobs.get('j')?.status?.phase;

test('reconcile creates the Service and one pod per rank, then is idempotent', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').workers(3).obj());
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.pods.keys()].sort(), ['j-worker-0', 'j-worker-1', 'j-worker-2']);
  assert.ok(cluster.services.has('j'));
  assert.equal(phase(cluster), 'Pending');
  assert.deepEqual(cluster.events.map((e) => e.reason), ['JobCreated']);
  await r.reconcile('default', 'j');
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.deepEqual(cluster.calls, [], 'an unchanged world causes no writes at all');
});

test('reconcile drives Running → gang restart → Running → Succeeded', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Running' });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Running');

  cluster.setPod('j-worker-1', { phase: 'Failed', exitCode: 137 });
  await r.reconcile('default', 'j');
  assert.equal(cluster.jobs.get('j')!.status!.restarts, 1);
  assert.equal(phase(cluster), 'Restarting');
  // The next pass (a pod-deletion event in a cluster) creates the new gang.
  assert.equal(cluster.pods.size, 0, 'the old gang is deleted first');
  assert.equal(cluster.deleteGrace.get('j-worker-0'), 5, 'the broken gang gets a short grace: it has nothing to save');
  await r.reconcile('default', 'j');
  const incarnations = [...cluster.pods.values()].map((p) => p.metadata!.labels!['dat-operator.io/incarnation']);
  assert.deepEqual(incarnations, ['1', '1']);
  const env = cluster.pods.get('j-worker-0')!.spec!.containers[0]!.env!.find((e) => e.name === 'DAT_RESTART_COUNT');
  assert.equal(env?.value, '1');
  assert.ok(cluster.events.some((e) => e.type === 'Warning' && e.reason === 'WorkerFailed'));

  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Running' });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Running');
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Succeeded', exitCode: 0 });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Succeeded');
  assert.equal(cluster.pods.size, 2, 'cleanPodPolicy Running keeps terminated pods');
});

test('reconcile fails at once on a permanent exit code and cleans running pods', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  cluster.setPod('j-worker-0', { phase: 'Failed', exitCode: 2 });
  cluster.setPod('j-worker-1', { phase: 'Running' });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Failed');
  assert.equal(cluster.jobs.get('j')!.status!.restarts, 0);
  assert.deepEqual([...cluster.pods.keys()], ['j-worker-0'], 'the running peer was deleted, the failed pod kept for its logs');
});

test('suspend deletes the pods and keeps the job; resume recreates them', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  const job = cluster.jobs.get('j')!;
  cluster.put({ ...job, spec: { ...job.spec, runPolicy: { suspend: true } } });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Suspended');
  assert.equal(cluster.pods.size, 0);
  assert.deepEqual([...cluster.deleteGrace.values()], [undefined, undefined], 'the pods keep their own grace to save a checkpoint');
  const s = cluster.jobs.get('j')!;
  cluster.put({ ...s, spec: { ...s.spec, runPolicy: { suspend: false } } });
  await r.reconcile('default', 'j');
  assert.equal(cluster.pods.size, 2);
  assert.ok(cluster.events.some((e) => e.reason === 'JobResumed'));
});

test('TTL deletes a finished job once expired, and requeues until then', async () => {
  const { cluster, r, clock } = setup(makeDATJob('j').uid('u').runPolicy({ ttlSecondsAfterFinished: 30 }).obj());
  await r.reconcile('default', 'j');
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Succeeded', exitCode: 0 });
  const res = await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Succeeded');
  assert.equal(res.requeueAfterMs, 30_000);
  clock.t += 30_000;
  await r.reconcile('default', 'j');
  assert.equal(cluster.jobs.has('j'), false);
});

test('activeDeadlineSeconds requeues for the deadline and then fails the job', async () => {
  const { cluster, r, clock } = setup(makeDATJob('j').uid('u').runPolicy({ activeDeadlineSeconds: 10 }).obj());
  const res = await r.reconcile('default', 'j');
  assert.equal(res.requeueAfterMs, 10_000);
  clock.t += 10_000;
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Failed');
  assert.equal(cluster.jobs.get('j')!.status!.conditions!.find((c) => c.type === 'Failed')!.reason, 'DeadlineExceeded');
  assert.equal(cluster.pods.size, 0);
});

test('a lagging cache never restarts the gang twice', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Running' });
  await r.reconcile('default', 'j');
  const staleJob = cluster.jobs.get('j')!;
  cluster.setPod('j-worker-0', { phase: 'Failed', exitCode: 1 });
  const failedPods = new Map(cluster.pods);
  await r.reconcile('default', 'j');
  assert.equal(cluster.jobs.get('j')!.status!.restarts, 1);
  // The caches now serve the old job and the old pods again.
  cluster.lagJob = staleJob;
  cluster.lagPods = failedPods;
  await r.reconcile('default', 'j');
  assert.equal(cluster.jobs.get('j')!.status!.restarts, 1, 'our own write wins over the stale cache');
  cluster.lagJob = undefined;
  cluster.lagPods = undefined;
  await r.reconcile('default', 'j');
  assert.equal(cluster.jobs.get('j')!.status!.restarts, 1);
  assert.ok([...cluster.pods.values()].every((p) => p.metadata!.labels!['dat-operator.io/incarnation'] === '1'), 'stale pods replaced by the new incarnation');
});

test('a missing job is a no-op', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  assert.deepEqual(await r.reconcile('default', 'other'), {});
  assert.deepEqual(cluster.calls, []);
});

test('selectPodsToClean follows cleanPodPolicy', () => {
  const job = makeDATJob('j').obj();
  const pods = [makePod(job, 0, { phase: 'Running' }), makePod(job, 1, { phase: 'Failed', exitCode: 1 })];
  const names = (ps: V1Pod[]): string[] => ps.map((p) => p.metadata!.name!);
  assert.deepEqual(names(selectPodsToClean(pods, 'All')), ['j-worker-0', 'j-worker-1']);
  assert.deepEqual(names(selectPodsToClean(pods, 'Running')), ['j-worker-0']);
  assert.deepEqual(names(selectPodsToClean(pods, 'None')), []);
});

test('the final report in rank 0\'s termination message reaches status.progress', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Succeeded', exitCode: 0 });
  const final = { phase: 'done', epoch: 2, totalEpochs: 2, step: 40, totalSteps: 40, robustAccuracy: 0.61, cleanAccuracy: 0.9, lastHeartbeat: '2026-01-01T00:00:00Z' };
  cluster.pods.get('j-worker-0')!.status!.containerStatuses![0]!.state!.terminated!.message = JSON.stringify(final);
  await r.reconcile('default', 'j');
  const st = cluster.jobs.get('j')!.status!;
  assert.equal(st.phase, 'Succeeded');
  assert.equal(st.progress?.robustAccuracy, 0.61);
  assert.equal(st.progress?.step, 40);
});

test('each incarnation gets a new ring TLS Secret before its pods; the previous one is deleted; the NetworkPolicy admits the job', async () => {
  const cluster = new FakeCluster();
  cluster.put(makeDATJob('j').uid('u').obj());
  const r = new Reconciler({ reader: cluster, writer: cluster, networkPolicy: { namespace: 'dat-system', podLabels: { 'app.kubernetes.io/name': 'dat-operator' } } });
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.secrets.keys()], ['j-ring-tls-0']);
  assert.ok(cluster.calls.indexOf('create secret j-ring-tls-0') < cluster.calls.indexOf('create pod j-worker-0'), 'the Secret exists before any pod mounts it');
  const ca0 = cluster.secrets.get('j-ring-tls-0')!.data!['ca.crt'];
  assert.deepEqual([...cluster.policies.keys()], ['j-ring']);
  assert.equal(cluster.pods.get('j-worker-1')!.spec!.volumes!.find((v) => v.name === 'ring-tls')!.secret!.secretName, 'j-ring-tls-0');

  cluster.setPod('j-worker-0', { phase: 'Failed', exitCode: 3 });
  await r.reconcile('default', 'j');
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.secrets.keys()], ['j-ring-tls-1'], 'rotated: the old incarnation\'s Secret is gone');
  assert.notEqual(cluster.secrets.get('j-ring-tls-1')!.data!['ca.crt'], ca0, 'a new CA');
  assert.equal(cluster.pods.get('j-worker-0')!.spec!.volumes!.find((v) => v.name === 'ring-tls')!.secret!.secretName, 'j-ring-tls-1');
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.deepEqual(cluster.calls.filter((c) => /secret|pod/.test(c)), [], 'no keys are issued while the gang is complete');
});

/** A reconciler on a fake cluster with a controllable clock, a short backoff and counted CA issuance. */
function setupBlocked(job: DATJob): { cluster: FakeCluster; r: Reconciler; clock: { t: number }; issued: { n: number } } {
  const cluster = new FakeCluster();
  cluster.put(job);
  const clock = { t: Date.parse('2026-01-01T00:00:00.000Z') };
  const issued = { n: 0 };
  const issueCa: ReconcilerOptions['issueCa'] = (ref) => {
    issued.n++;
    return createJobCa(ref);
  };
  const r = new Reconciler({ reader: cluster, writer: cluster, now: () => new Date(clock.t), createBackoff: { initialMs: 1_000, maxMs: 4_000 }, issueCa });
  return { cluster, r, clock, issued };
}

const podCreates = (c: FakeCluster): number => c.calls.filter((x) => x.startsWith('create pod')).length;
const blockedOf = (c: FakeCluster): { status: string; reason: string; message: string } | undefined => c.jobs.get('j')?.status?.conditions?.find((x) => x.type === 'Blocked');

test('computeRetryDelayMs doubles from the initial delay up to the cap', () => {
  const backoff = { initialMs: 10_000, maxMs: 300_000 };
  const cases = [
    { attempts: 1, want: 10_000 },
    { attempts: 2, want: 20_000 },
    { attempts: 5, want: 160_000 },
    { attempts: 6, want: 300_000 },
    { attempts: 1_000, want: 300_000 },
  ];
  for (const c of cases) assert.equal(computeRetryDelayMs(c.attempts, backoff), c.want, `attempt ${c.attempts}`);
});

test('a refused pod blocks the job: one request per attempt, retried on backoff only, the CA issued once; fixed, it unblocks', async () => {
  const { cluster, r, clock, issued } = setupBlocked(makeDATJob('j').uid('u').workers(4).obj());
  cluster.podError = new ApiError('failed to create pod default/j-worker-0', 403, 'pods "j-worker-0" is forbidden: error looking up service account default/sa: serviceaccount "sa" not found');

  // Pass 1 tries (slow start: rank 0 alone) and is refused; pass 2 records Blocked.
  assert.deepEqual(await r.reconcile('default', 'j'), { requeueAfterMs: 1 });
  assert.equal(podCreates(cluster), 1, 'slow start: one refused pod, not four');
  assert.deepEqual(await r.reconcile('default', 'j'), { requeueAfterMs: 1_000 });
  assert.equal(phase(cluster), 'Blocked');
  assert.deepEqual([blockedOf(cluster)?.status, blockedOf(cluster)?.reason], ['True', 'CreateRefused']);
  assert.match(blockedOf(cluster)?.message ?? '', /failed to create 1 of 4 missing worker pod\(s\) of datjob default\/j: failed to create pod default\/j-worker-0: HTTP 403: .*serviceaccount "sa" not found/);
  assert.deepEqual(cluster.events.filter((e) => e.reason === 'CreateRefused').map((e) => e.type), ['Warning']);

  // Progress polls enqueue the job often: no create until the backoff ends.
  for (let i = 0; i < 5; i++) {
    clock.t += 100;
    await r.reconcile('default', 'j');
  }
  assert.equal(podCreates(cluster), 1, 'no retry within the backoff');
  const retriesAt: number[] = [];
  const t0 = clock.t;
  for (let ms = 0; ms < 12_000; ms += 100) {
    clock.t += 100;
    const before = podCreates(cluster);
    await r.reconcile('default', 'j');
    if (podCreates(cluster) > before) retriesAt.push(clock.t - t0);
  }
  // Refused at 0; 500 ms passed above: retries at 1 s, then 2, 4 and 4 s (the cap) later.
  assert.deepEqual(retriesAt, [500, 2_500, 6_500, 10_500], 'retries 1, 2, 4, 4 s apart (cap)');
  assert.equal(issued.n, 1, 'the Secret exists: no CA issued for the retries');
  assert.equal(cluster.events.filter((e) => e.reason === 'CreateRefused').length, 1, 'one Warning for one cause');

  cluster.podError = undefined;
  clock.t += 4_000;
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.pods.keys()].sort(), ['j-worker-0', 'j-worker-1', 'j-worker-2', 'j-worker-3']);
  await r.reconcile('default', 'j');
  assert.deepEqual([blockedOf(cluster)?.status, blockedOf(cluster)?.reason], ['False', 'ChildrenCreated']);
  assert.equal(phase(cluster), 'Pending');
  assert.equal(issued.n, 1);
});

test('a spec edit retries a blocked job at once', async () => {
  const { cluster, r } = setupBlocked(makeDATJob('j').uid('u').obj());
  cluster.podError = new ApiError('failed to create pod default/j-worker-0', 403, 'exceeded quota');
  await r.reconcile('default', 'j');
  await r.reconcile('default', 'j');
  assert.equal(podCreates(cluster), 1);
  cluster.podError = undefined;
  const job = cluster.jobs.get('j')!;
  cluster.put({ ...job, metadata: { ...job.metadata, generation: 2 }, spec: { ...job.spec, workers: { ...job.spec.workers, serviceAccountName: 'fixed' } } });
  await r.reconcile('default', 'j');
  assert.equal(cluster.pods.size, 2, 'created without waiting for the backoff');
});

test('a transient API error goes to the work queue and does not block the job', async () => {
  const { cluster, r } = setupBlocked(makeDATJob('j').uid('u').obj());
  cluster.podError = new ApiError('failed to create pod default/j-worker-0', 503, 'etcdserver: request timed out');
  await assert.rejects(r.reconcile('default', 'j'), (err: unknown) => err instanceof DatError && err.retryable && /HTTP 503/.test(err.message));
  await assert.rejects(r.reconcile('default', 'j'));
  assert.equal(blockedOf(cluster), undefined);
  assert.equal(podCreates(cluster), 2, 'retried on every pass: the work queue backs off');
});

test('a refused ring TLS Secret is resent as built: the CA is issued once', async () => {
  const { cluster, r, clock, issued } = setupBlocked(makeDATJob('j').uid('u').workers(3).obj());
  // The CA-only Secret is about 1 KiB; an admission refusal (a quota) still blocks it.
  cluster.secretError = new ApiError('failed to create secret default/j-ring-tls-0', 403, 'secrets "j-ring-tls-0" is forbidden: exceeded quota: q, requested: count/secrets=1, used: count/secrets=0, limited: count/secrets=0');
  await r.reconcile('default', 'j');
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Blocked');
  assert.match(blockedOf(cluster)?.message ?? '', /failed to create secret default\/j-ring-tls-0: HTTP 403: .*exceeded quota/);
  for (let i = 0; i < 3; i++) {
    clock.t += 5_000;
    await r.reconcile('default', 'j');
  }
  assert.equal(cluster.sentSecrets.length, 4);
  assert.equal(issued.n, 1, 'issued once, resent three times');
  assert.ok(cluster.sentSecrets.every((s) => s === cluster.sentSecrets[0]), 'the same credentials each time');
  assert.equal(podCreates(cluster), 0, 'no pod without its Secret');
});

test('a job whose global batch exceeds the dataset fails with InvalidSpec and gets no children', async () => {
  const { cluster, r, issued } = setupBlocked(makeDATJob('j').uid('u').training({ batchSizePerWorker: 65_536 }).obj());
  await r.reconcile('default', 'j');
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Failed');
  assert.equal(cluster.jobs.get('j')?.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'InvalidSpec');
  assert.deepEqual(cluster.calls.filter((c) => c !== 'patch status'), []);
  assert.equal(issued.n, 0);
});

test('a Kueue-queued job ends each pod group before its pods go, and the new gang forms a new group', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').labels({ 'kueue.x-k8s.io/queue-name': 'q' }).obj());
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.pods.values()].map((p) => p.metadata!.labels!['kueue.x-k8s.io/pod-group-name']), ['j-u-0', 'j-u-0']);
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Running' });
  await r.reconcile('default', 'j');
  // Kueue evicts the group (a higher-priority workload): TerminationTarget on every pod.
  for (const n of ['j-worker-0', 'j-worker-1']) cluster.setPod(n, { phase: 'Running', stoppedByKueue: true });
  cluster.calls = [];
  await r.reconcile('default', 'j');
  const status = cluster.jobs.get('j')!.status!;
  assert.deepEqual([status.phase, status.restarts, status.preemptions], ['Restarting', 1, 1]);
  const release = '{"kueue.x-k8s.io/retriable-in-group":"false"}';
  assert.deepEqual(cluster.calls.filter((c) => c.includes('pod')), [
    `annotate pod j-worker-0 ${release}`,
    `annotate pod j-worker-1 ${release}`,
    'delete pod j-worker-0',
    'delete pod j-worker-1',
  ]);
  await r.reconcile('default', 'j');
  assert.deepEqual([...cluster.pods.values()].map((p) => p.metadata!.labels!['kueue.x-k8s.io/pod-group-name']), ['j-u-1', 'j-u-1']);

  // A failed job keeps its failed pod (cleanPodPolicy Running) but still ends the group, so Kueue frees the quota.
  cluster.setPod('j-worker-0', { phase: 'Failed', exitCode: 2 });
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Failed');
  assert.equal(cluster.pods.get('j-worker-0')?.metadata?.annotations?.['kueue.x-k8s.io/retriable-in-group'], 'false');
  await r.reconcile('default', 'j'); // the worker counts follow the deleted peer
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.deepEqual(cluster.calls, [], 'released once: no writes on later passes');
});

test('jobs outside Kueue never annotate their pods', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').obj());
  await r.reconcile('default', 'j');
  cluster.setPod('j-worker-0', { phase: 'Failed', exitCode: 2 });
  await r.reconcile('default', 'j');
  assert.equal(phase(cluster), 'Failed');
  assert.ok(!cluster.calls.some((c) => c.startsWith('annotate')));
});

test('a deleted Kueue-queued job ends the group of the pods it leaves behind', async () => {
  const { cluster, r } = setup(makeDATJob('j').uid('u').labels({ 'kueue.x-k8s.io/queue-name': 'q' }).obj());
  await r.reconcile('default', 'j');
  cluster.jobs.delete('j');
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.deepEqual(cluster.calls.filter((c) => c.startsWith('annotate')).length, 2, JSON.stringify(cluster.calls));
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.deepEqual(cluster.calls, [], 'once');
});

test('a job with spec.scheduling.podGroup gets its PodGroup before its pods, once', async () => {
  const job = makeDATJob('j').uid('u').workers(3).obj();
  const { cluster, r } = setup({ ...job, spec: { ...job.spec, scheduling: { podGroup: { scheduler: 'Coscheduling', scheduleTimeoutSeconds: 60 } } } });
  await r.reconcile('default', 'j');
  const order = cluster.calls.filter((c) => c.startsWith('create podgroup') || c.startsWith('create pod '));
  assert.equal(order[0], 'create podgroup j', JSON.stringify(order));
  assert.deepEqual(cluster.podGroups.map((g) => g.spec), [{ minMember: 3, scheduleTimeoutSeconds: 60 }]);
  assert.ok([...cluster.pods.values()].every((p) => p.metadata?.labels?.['scheduling.x-k8s.io/pod-group'] === 'j' && p.spec?.schedulerName === 'scheduler-plugins-scheduler'));
  cluster.calls = [];
  await r.reconcile('default', 'j');
  assert.ok(!cluster.calls.some((c) => c.startsWith('create podgroup')), 'not again while the pods exist');
});

test('an unschedulable Coscheduling gang gets the requeue annotation once per interval and a requeue at the next boundary; a placed gang keeps it', async () => {
  const job = makeDATJob('j').uid('u').workers(3).obj();
  const start = '2026-01-01T00:00:00.000Z';
  const { cluster, r, clock } = setup({ ...job, spec: { ...job.spec, scheduling: { podGroup: { scheduler: 'Coscheduling' } } } }, start);
  await r.reconcile('default', 'j');
  assert.equal(cluster.podGroups[0]?.metadata.annotations, undefined, 'no annotation while nothing is unschedulable');
  const since = Date.parse(start);
  for (const name of ['j-worker-0', 'j-worker-1', 'j-worker-2']) cluster.setPod(name, { unschedulable: { since: start, message: '0/1 nodes are available: 1 Insufficient example.com/gpu' } });
  // The scheduling timeout (300 s by default) is later than every requeue here.
  const cases = [
    { waitedS: 0, wantN: '0', wantRequeueMs: 30_000 },
    { waitedS: 29, wantN: '0', wantRequeueMs: 1_000 },
    { waitedS: 30, wantN: '1', wantRequeueMs: 30_000 },
    { waitedS: 95, wantN: '3', wantRequeueMs: 25_000 },
  ];
  for (const c of cases) {
    clock.t = since + c.waitedS * 1000;
    const res = await r.reconcile('default', 'j');
    assert.equal(cluster.podGroups[0]?.metadata.annotations?.['dat-operator.io/requeue'], c.wantN, `after ${c.waitedS} s`);
    assert.equal(res.requeueAfterMs, c.wantRequeueMs, `after ${c.waitedS} s`);
  }
  for (const name of ['j-worker-0', 'j-worker-1', 'j-worker-2']) cluster.setPod(name, { phase: 'Running' });
  cluster.calls = [];
  clock.t = since + 200_000;
  const res = await r.reconcile('default', 'j');
  assert.ok(!cluster.calls.some((c) => c.includes('podgroup')), `no PodGroup write once placed: ${JSON.stringify(cluster.calls)}`);
  assert.equal(cluster.podGroups[0]?.metadata.annotations?.['dat-operator.io/requeue'], '3', 'the last value stays');
  assert.equal(res.requeueAfterMs, undefined);
});

test('unschedulable pods of a job without a PodGroup write no PodGroup and add no requeue', async () => {
  const { cluster, r, clock } = setup(makeDATJob('j').uid('u').workers(2).obj());
  await r.reconcile('default', 'j');
  const start = new Date(clock.t).toISOString();
  for (const name of ['j-worker-0', 'j-worker-1']) cluster.setPod(name, { unschedulable: { since: start, message: 'no' } });
  clock.t += 95_000;
  const res = await r.reconcile('default', 'j');
  assert.deepEqual(cluster.podGroups, []);
  assert.equal(res.requeueAfterMs, 300_000 - 95_000, 'only the scheduling timeout');
});
