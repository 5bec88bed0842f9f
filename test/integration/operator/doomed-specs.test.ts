/**
 * Issue 20, operator findings 1 and 2, on a real API server (etcd +
 * kube-apiserver + kube-controller-manager, so the ServiceAccount admission
 * plugin runs as in a cluster):
 *
 * - every pod field the API server would refuse, and every spec that used to
 *   be doomed at worker start, is refused at apply time naming the field, or
 *   (when it needs the dataset) fails with condition InvalidSpec before any pod;
 * - what only the cluster can refuse (a missing ServiceAccount) makes the job
 *   Blocked with the API server's message and a Warning event, retried with
 *   backoff and without issuing the ring CA again, and unblocks once the
 *   cluster is fixed;
 * - 1,024 replicas with a 48-character name, whose per-rank Secret used to
 *   pass 1 MiB, get a Secret of the job CA alone and all their pods.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { DATJob } from '../../../operator/api/types.js';
import { apiErrorMessage } from '../../../operator/api-error.js';
import { startOperator, type OperatorHandle } from '../../../operator/operator.js';
import { findSpecProblem } from '../../../operator/spec-checks.js';
import { createLogger } from '../../../common/log.js';
import { startControlPlane, type ControlPlane } from '../../support/control-plane.js';
import { createTestNamespace, waitFor } from '../../support/kube.js';
import { REPO_ROOT } from '../../support/paths.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';
import { BOUNDARY_CASES, DOOMED_CASES, POD_FIELD_CASES, type InvalidJobCase } from '../../support/fixtures/invalid-datjobs.js';
import { DATJobs, installDATJobCRD } from './_crd.js';

/** Short backoff so the test sees several retries: 400 ms doubling to 1.6 s. */
const BACKOFF = { initialMs: 400, maxMs: 1_600 } as const;
/** The progress poller enqueues every job this often: before the fix, every poll retried the creates. */
const PROGRESS_INTERVAL_MS = 100;

let cp: ControlPlane;
let core: CoreV1Api;
let jobs: DATJobs;
let operator: OperatorHandle | undefined;
const logLines: string[] = [];

before(async () => {
  cp = await startControlPlane({ controllerManager: true });
  await installDATJobCRD(cp);
  core = cp.kubeConfig.makeApiClient(CoreV1Api);
  jobs = new DATJobs(cp.kubeConfig);
  operator = await startOperator({
    kubeConfig: cp.kubeConfig,
    metricsPort: -1,
    healthPort: -1,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
    createBackoff: BACKOFF,
    log: createLogger({}, (line) => {
      logLines.push(line);
      if (process.env.DAT_TEST_DEBUG === '1') process.stderr.write(line + '\n');
    }),
  });
});

after(async () => {
  await operator?.stop();
  await cp?.stop();
});

async function createIn(ns: string, job: DATJob): Promise<string> {
  try {
    await jobs.create({ ...job, metadata: { ...job.metadata, namespace: ns } });
  } catch (err) {
    return apiErrorMessage(err);
  }
  return 'accepted';
}

function assertRejected(c: InvalidJobCase, msg: string): void {
  assert.notEqual(msg, 'accepted', `${c.name}: the API server accepted it`);
  for (const re of c.want) assert.match(msg, re, `${c.name}: ${msg}`);
}

/** Log lines of `event` for job `ns/name` (the operator logs one per attempt). */
const countLog = (event: string, ns: string, name: string): number => logLines.filter((l) => l.includes(event) && l.includes(`${ns}/${name}`)).length;

async function warnings(ns: string, name: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace: ns });
  return list.items.filter((e) => e.involvedObject.name === name && e.type === 'Warning');
}

const condition = (j: DATJob, type: string): { status: string; reason: string; message: string } | undefined =>
  j.status?.conditions?.find((c) => c.type === type);

async function waitCondition(ns: string, name: string, type: string, status: string, timeoutMs = 30_000): Promise<DATJob> {
  return waitFor(
    async () => {
      const j = await jobs.get(ns, name);
      return condition(j, type)?.status === status ? j : undefined;
    },
    { description: `datjob ${ns}/${name} ${type}=${status}`, timeoutMs, intervalMs: 100 },
  );
}

test('pod fields the API server would refuse are refused on the DATJob, naming the field', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'podfields')).name;
  for (const c of POD_FIELD_CASES) assertRejected(c, await createIn(ns, c.job));
});

test('the doomed specs the CRD can judge are refused at apply time, naming the field', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'doomed')).name;
  const crdCases = DOOMED_CASES.filter((c) => c.caughtBy === 'crd');
  assert.equal(crdCases.length, 9, 'nine of the issue ten are the CRD\'s to refuse');
  for (const c of crdCases) assertRejected(c, await createIn(ns, c.job));
});

test('the valid side of every bound is accepted', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'bounds')).name;
  // Suspended: only the API server's verdict matters here, not pods.
  for (const c of BOUNDARY_CASES) {
    const job = { ...c.job, spec: { ...c.job.spec, runPolicy: { suspend: true } } };
    assert.equal(await createIn(ns, job), 'accepted', c.name);
  }
});

test('the shipped examples pass the new rules: the API server accepts them and the operator finds no problem', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'examples')).name;
  const dir = join(REPO_ROOT, 'examples');
  let n = 0;
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as DATJob | null;
      if (obj?.kind !== 'DATJob') continue;
      const job = { ...obj, spec: { ...obj.spec, runPolicy: { ...obj.spec.runPolicy, suspend: true } } };
      assert.equal(await createIn(ns, job), 'accepted', file);
      assert.equal(findSpecProblem(obj)?.message, undefined, file);
      n++;
    }
  }
  assert.ok(n >= 2, `${n} DATJob examples`);
});

test('a spec too big for its dataset fails with InvalidSpec and a Warning before any pod exists', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'dataset')).name;
  const cases = DOOMED_CASES.filter((c) => c.caughtBy === 'operator');
  for (const c of cases) assert.equal(await createIn(ns, c.job), 'accepted', `${c.name}: the API server cannot judge it`);
  for (const c of cases) {
    const name = c.job.metadata.name!;
    const failed = await waitCondition(ns, name, 'Failed', 'True');
    assert.equal(failed.status?.phase, 'Failed', c.name);
    assert.equal(condition(failed, 'Failed')?.reason, 'InvalidSpec', c.name);
    for (const re of c.want) assert.match(condition(failed, 'Failed')?.message ?? '', re, c.name);
    const ev = await waitFor(async () => (await warnings(ns, name)).find((e) => e.reason === 'InvalidSpec'), { description: `${name} Warning InvalidSpec` });
    assert.match(ev.message ?? '', c.want[0]!, c.name);
  }
  // Given time to act, the operator created nothing for them.
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal((await core.listNamespacedPod({ namespace: ns })).items.length, 0, 'no pods');
  assert.equal((await core.listNamespacedSecret({ namespace: ns })).items.filter((s) => s.metadata?.name?.includes('-ring-tls-')).length, 0, 'no ring TLS secrets');
});

test('a missing ServiceAccount blocks the job with the API server message, retried with backoff, until it exists', async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'nosa')).name;
  await jobs.create(makeDATJob('j').namespace(ns).workersSpec({ serviceAccountName: 'trainer' }).obj());
  const blocked = await waitCondition(ns, 'j', 'Blocked', 'True');
  assert.equal(blocked.status?.phase, 'Blocked');
  const cond = condition(blocked, 'Blocked')!;
  assert.equal(cond.reason, 'CreateRefused');
  assert.match(cond.message, /failed to create pod .*j-worker-0: HTTP 403: .*serviceaccount "trainer" not found/);
  const ev = await waitFor(async () => (await warnings(ns, 'j')).find((e) => e.reason === 'CreateRefused'), { description: 'Warning CreateRefused' });
  assert.match(ev.message ?? '', /serviceaccount "trainer" not found/);

  // Backoff: over 4 s the poller enqueues the job ~40 times; retries come at 0.4, 1.2, 2.8, 4.4 s (+ one first attempt).
  const before = countLog('Refused creation', ns, 'j');
  await new Promise((r) => setTimeout(r, 4_000));
  const retries = countLog('Refused creation', ns, 'j') - before;
  assert.ok(retries >= 1 && retries <= 4, `retries in 4 s: ${retries} (backoff ${BACKOFF.initialMs}..${BACKOFF.maxMs} ms)`);
  // Slow start: one refused pod per attempt, and the ring CA was issued once.
  assert.equal(countLog('Issued ring TLS CA', ns, 'j'), 1, 'CA issued once');
  assert.equal((await core.listNamespacedPod({ namespace: ns })).items.length, 0);

  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'trainer' } } });
  const unblocked = await waitCondition(ns, 'j', 'Blocked', 'False', 10_000);
  assert.equal(condition(unblocked, 'Blocked')?.reason, 'ChildrenCreated');
  assert.equal(unblocked.status?.phase, 'Pending', 'waiting for the pods to run (no kubelet here)');
  assert.equal((await core.listNamespacedPod({ namespace: ns })).items.length, 2);
  assert.equal(countLog('Issued ring TLS CA', ns, 'j'), 1, 'the retry reused the Secret');
});

test('1,024 replicas with a 48-character name: the ring TLS Secret is the job CA alone and every pod is created', { timeout: 240_000 }, async () => {
  const ns = (await createTestNamespace(cp.kubeConfig, 'big')).name;
  const name = `big-${'x'.repeat(44)}`;
  assert.equal(name.length, 48);
  // Batch 4 keeps the global batch (4,096) within mnist's 8,000 training examples.
  await jobs.create(makeDATJob(name).namespace(ns).workers(1024).training({ batchSizePerWorker: 4 }).obj());
  const secret = await waitFor(() => core.readNamespacedSecret({ namespace: ns, name: `${name}-ring-tls-0` }), { description: 'ring TLS Secret', timeoutMs: 60_000 });
  assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca.crt', 'ca.key']);
  const bytes = Object.values(secret.data ?? {}).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  assert.ok(bytes < 4096, `Secret data of ${bytes} bytes (one certificate per rank passed 1 MiB here)`);
  await waitFor(async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 1024, { description: '1,024 pods', timeoutMs: 180_000, intervalMs: 1_000 });
  const job = await jobs.get(ns, name);
  assert.notEqual(condition(job, 'Blocked')?.status, 'True', 'not Blocked');
  assert.equal(countLog('Issued ring TLS CA', ns, name), 1, 'one CA for the incarnation');
  await jobs.delete(ns, name);
});
