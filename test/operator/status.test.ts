import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, DATJob, DATJobStatus } from '../../operator/api/types.js';
import { classifyPods } from '../../operator/pods.js';
import { computeEvaluationStatus, computeEvents, computeStatus, mergeProgress, progressRemainingMs, statusEqual } from '../../operator/status.js';
import { parseProgressReport, readTerminationReport } from '../../operator/progress-report.js';
import type { FinalEvaluationReport, ProgressReport } from '../../common/contract.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';
import { makePod, makePods, type PodState } from './_pods.js';

const T0 = '2026-01-01T00:00:00.000Z';
const now = new Date('2026-01-01T00:10:00.000Z');
const cond = (type: string, status: Condition['status'], reason: string, at = T0): Condition => ({ type, status, reason, message: 'm', lastTransitionTime: at });
const created = cond('Created', 'True', 'JobCreated');
const running = cond('Running', 'True', 'AllWorkersRunning');

interface Case {
  readonly name: string;
  readonly job: DATJob;
  /** Pod states by rank (pods of the job's current incarnation unless overridden). */
  readonly pods: readonly PodState[];
  readonly progress?: ProgressReport;
  readonly want: {
    readonly phase: string;
    readonly restarts?: number;
    /** Condition type → [status, reason]. */
    readonly conditions?: Record<string, [string, string]>;
    readonly completed?: boolean;
  };
}

const base = (): ReturnType<typeof makeDATJob> => makeDATJob('j').uid('u').workers(2);
const runningStatus = (extra: DATJobStatus = {}): DATJobStatus => ({ phase: 'Running', conditions: [created, running], startTime: T0, restarts: 0, ...extra });

const cases: Case[] = [
  { name: 'new job with no pods is Pending and Created', job: base().obj(), pods: [], want: { phase: 'Pending', conditions: { Created: ['True', 'JobCreated'] } } },
  { name: 'some pods running is still Pending', job: base().obj(), pods: [{ phase: 'Running' }, { phase: 'Pending' }], want: { phase: 'Pending' } },
  {
    name: 'all pods running → Running',
    job: base().obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Running', conditions: { Running: ['True', 'AllWorkersRunning'] } },
  },
  {
    name: 'all pods succeeded → Succeeded with completion time',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Succeeded', exitCode: 0 }, { phase: 'Succeeded', exitCode: 0 }],
    want: { phase: 'Succeeded', completed: true, conditions: { Succeeded: ['True', 'AllWorkersSucceeded'], Running: ['False', 'AllWorkersSucceeded'] } },
  },
  {
    name: 'retryable failure → gang restart, restarts+1',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Failed', exitCode: 137 }],
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'WorkerFailed'], Running: ['False', 'WorkerFailed'] } },
  },
  {
    name: 'permanent exit code fails at once',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Failed', exitCode: 2 }, { phase: 'Running' }],
    want: { phase: 'Failed', restarts: 0, completed: true, conditions: { Failed: ['True', 'PermanentError'] } },
  },
  {
    name: 'permanent failure wins over a retryable one',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Failed', exitCode: 3 }, { phase: 'Failed', exitCode: 4 }],
    want: { phase: 'Failed', conditions: { Failed: ['True', 'PermanentError'] } },
  },
  {
    name: 'failure at backoffLimit → Failed BackoffLimitExceeded',
    job: base().runPolicy({ backoffLimit: 1 }).status(runningStatus({ restarts: 1 })).obj(),
    pods: [{ phase: 'Failed', exitCode: 1 }, { phase: 'Running' }],
    want: { phase: 'Failed', restarts: 1, completed: true, conditions: { Failed: ['True', 'BackoffLimitExceeded'] } },
  },
  {
    name: 'failed pods of an older incarnation are ignored while restarting',
    job: base().status({ phase: 'Restarting', conditions: [created, cond('Restarting', 'True', 'WorkerFailed')], startTime: T0, restarts: 1 }).obj(),
    pods: [{ phase: 'Failed', exitCode: 1, incarnation: 0 }, { phase: 'Running', incarnation: 0, deleting: true }],
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'WorkerFailed'] } },
  },
  {
    name: 'new gang running after restart → Running, Restarting False',
    job: base().status({ phase: 'Restarting', conditions: [created, cond('Restarting', 'True', 'WorkerFailed')], startTime: T0, restarts: 1 }).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Running', restarts: 1, conditions: { Running: ['True', 'AllWorkersRunning'], Restarting: ['False', 'AllWorkersRunning'] } },
  },
  {
    name: 'a pod deleted from a running gang restarts it',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Running' }],
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'WorkerFailed'] } },
  },
  {
    name: 'suspend → Suspended, start time cleared',
    job: base().suspend().status(runningStatus()).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Suspended', conditions: { Suspended: ['True', 'JobSuspended'], Running: ['False', 'JobSuspended'] } },
  },
  {
    name: 'resume → Suspended False JobResumed, Pending',
    job: base().status({ phase: 'Suspended', conditions: [created, cond('Suspended', 'True', 'JobSuspended')] }).obj(),
    pods: [],
    want: { phase: 'Pending', conditions: { Suspended: ['False', 'JobResumed'] } },
  },
  {
    name: 'deadline exceeded → Failed DeadlineExceeded',
    job: base().runPolicy({ activeDeadlineSeconds: 60 }).status(runningStatus()).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Failed', completed: true, conditions: { Failed: ['True', 'DeadlineExceeded'], Running: ['False', 'DeadlineExceeded'] } },
  },
  {
    name: 'deadline not yet reached keeps Running',
    job: base().runPolicy({ activeDeadlineSeconds: 3600 }).status(runningStatus()).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Running' },
  },
  {
    name: 'no step progress within progressDeadlineSeconds → gang restart',
    job: base().runPolicy({ progressDeadlineSeconds: 120 }).status(runningStatus({ progress: { step: 5, lastProgressTime: '2026-01-01T00:05:00.000Z' } })).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    progress: { phase: 'training', epoch: 1, totalEpochs: 2, step: 5, totalSteps: 10, lastHeartbeat: T0 },
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'ProgressDeadlineExceeded'] } },
  },
  {
    name: 'advancing step within the deadline keeps Running',
    job: base().runPolicy({ progressDeadlineSeconds: 120 }).status(runningStatus({ progress: { step: 5, lastProgressTime: '2026-01-01T00:05:00.000Z' } })).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    progress: { phase: 'training', epoch: 1, totalEpochs: 2, step: 6, totalSteps: 10, lastHeartbeat: T0 },
    want: { phase: 'Running', restarts: 0 },
  },
  {
    name: 'finished job keeps its terminal condition whatever the pods do',
    job: base().status({ phase: 'Succeeded', conditions: [created, cond('Succeeded', 'True', 'AllWorkersSucceeded')], completionTime: T0 }).obj(),
    pods: [{ phase: 'Failed', exitCode: 1 }],
    want: { phase: 'Succeeded', conditions: { Succeeded: ['True', 'AllWorkersSucceeded'] } },
  },
];

const NO_GPU = '0/1 nodes are available: 1 Insufficient example.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
// now - 10 min and now - 1 min: past and within a 300 s timeout.
const longAgo = { since: T0, message: NO_GPU };
const recently = { since: '2026-01-01T00:09:00.000Z', message: NO_GPU };
const unschedulableTrue = cond('Unschedulable', 'True', 'PodsUnschedulable');
cases.push(
  {
    name: 'a pod unschedulable within the timeout sets no condition',
    job: base().obj(),
    pods: [{ phase: 'Running' }, { unschedulable: recently }],
    want: { phase: 'Pending', conditions: { Created: ['True', 'JobCreated'] } },
  },
  {
    name: 'a pod unschedulable past the timeout sets Unschedulable and keeps waiting by default',
    job: base().obj(),
    pods: [{ phase: 'Running' }, { unschedulable: longAgo }],
    want: { phase: 'Pending', conditions: { Unschedulable: ['True', 'PodsUnschedulable'] } },
  },
  {
    name: 'a gang timed out with policy Fail fails the job',
    job: base().runPolicy({ schedulingTimeoutSeconds: 60, schedulingTimeoutPolicy: 'Fail' }).obj(),
    pods: [{ unschedulable: recently }, { unschedulable: recently }],
    want: { phase: 'Failed', conditions: { Failed: ['True', 'SchedulingTimeout'], Unschedulable: ['True', 'PodsUnschedulable'] }, completed: true },
  },
  {
    name: 'pods gated by Kueue are queued, not unschedulable',
    job: base().runPolicy({ schedulingTimeoutSeconds: 1, schedulingTimeoutPolicy: 'Fail' }).obj(),
    pods: [{ gated: true }, { gated: true }],
    want: { phase: 'Pending' },
  },
  {
    name: 'Unschedulable turns False once every pod is placed',
    job: base().status({ phase: 'Pending', conditions: [created, unschedulableTrue], startTime: T0 }).obj(),
    pods: [{ phase: 'Running' }, { phase: 'Running' }],
    want: { phase: 'Running', conditions: { Unschedulable: ['False', 'PodsScheduled'], Running: ['True', 'AllWorkersRunning'] } },
  },
  {
    name: 'Unschedulable stays True while a recreated pod waits within the timeout',
    job: base().status({ phase: 'Pending', conditions: [created, unschedulableTrue], startTime: T0 }).obj(),
    pods: [{ phase: 'Running' }, { unschedulable: recently }],
    want: { phase: 'Pending', conditions: { Unschedulable: ['True', 'PodsUnschedulable'] } },
  },
);

cases.push(
  {
    name: 'a gang stopped by Kueue restarts without spending backoffLimit',
    job: base().runPolicy({ backoffLimit: 0 }).status(runningStatus()).obj(),
    pods: [{ phase: 'Running', stoppedByKueue: true, deleting: true }, { phase: 'Failed', exitCode: 1, stoppedByKueue: true }],
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'Preempted'] } },
  },
  {
    name: 'a peer crashing after a preemption is not what restarts the gang',
    job: base().status(runningStatus()).obj(),
    pods: [{ phase: 'Failed', exitCode: 1 }, { phase: 'Running', stoppedByKueue: true }],
    want: { phase: 'Restarting', restarts: 1, conditions: { Restarting: ['True', 'Preempted'] } },
  },
  {
    name: 'a real failure after preemptions counts only the non-preemption restarts',
    job: base().runPolicy({ backoffLimit: 1 }).status(runningStatus({ restarts: 2, preemptions: 2 })).obj(),
    pods: [{ phase: 'Failed', exitCode: 1, incarnation: 2 }, { phase: 'Running', incarnation: 2 }],
    want: { phase: 'Restarting', restarts: 3, conditions: { Restarting: ['True', 'WorkerFailed'] } },
  },
);

test('a preemption is recorded in preemptions and named in the condition', () => {
  const job = base().status(runningStatus()).obj();
  const pods = [makePod(job, 0, { phase: 'Running', stoppedByKueue: true }), makePod(job, 1, { phase: 'Running', stoppedByKueue: true })];
  const got = computeStatus(job, { pods: classifyPods(pods, 0, 2) }, now);
  assert.equal(got.preemptions, 1);
  assert.match(got.conditions?.find((c) => c.type === 'Restarting')?.message ?? '', /^worker 0 was stopped by Kueue \(WorkloadEvictedDueToPreempted: Preempted to accommodate.*\): restarting all workers from the last checkpoint once admitted again \(preemption 1, not counted against backoffLimit\)$/);
  const plain = computeStatus(base().status(runningStatus()).obj(), { pods: classifyPods([makePod(job, 0, { phase: 'Failed', exitCode: 1 }), makePod(job, 1, { phase: 'Running' })], 0, 2) }, now);
  assert.equal(plain.preemptions, undefined, 'no preemptions field until there is one');
});

test('the Unschedulable condition and the Failed condition name the scheduler\'s reason', () => {
  const job = base().workers(3).runPolicy({ schedulingTimeoutSeconds: 120, schedulingTimeoutPolicy: 'Fail' }).obj();
  const pods = [makePod(job, 0, { phase: 'Running' }), makePod(job, 1, { unschedulable: longAgo }), makePod(job, 2, { unschedulable: recently })];
  const got = computeStatus(job, { pods: classifyPods(pods, 0, 3) }, now);
  const want = `2 of 3 workers could not be scheduled within 120s: ${NO_GPU}`;
  assert.equal(got.conditions?.find((c) => c.type === 'Unschedulable')?.message, want);
  assert.equal(got.conditions?.find((c) => c.type === 'Failed')?.message, `${want}; schedulingTimeoutPolicy is Fail`);
  const events = computeEvents(job.status, got);
  assert.ok(events.some((e) => e.type === 'Warning' && e.reason === 'PodsUnschedulable' && e.message === want), JSON.stringify(events));
});

test('computeStatus covers every transition', () => {
  for (const c of cases) {
    const pods = c.pods.map((s, rank) => makePod(c.job, rank, s));
    const observed = { pods: classifyPods(pods, c.job.status?.restarts ?? 0, c.job.spec.workers.replicas), progress: c.progress };
    const got = computeStatus(c.job, observed, now);
    assert.equal(got.phase, c.want.phase, `${c.name}: phase`);
    if (c.want.restarts !== undefined) assert.equal(got.restarts, c.want.restarts, `${c.name}: restarts`);
    for (const [type, [status, reason]] of Object.entries(c.want.conditions ?? {})) {
      const found = got.conditions?.find((x) => x.type === type);
      assert.deepEqual([found?.status, found?.reason], [status, reason], `${c.name}: condition ${type}`);
    }
    if (c.want.completed === true) assert.ok(got.completionTime !== undefined, `${c.name}: completionTime`);
    // Computing again on the result with the same world is stable (no write loop) unless the job restarts.
    if (got.restarts === (c.job.status?.restarts ?? 0)) {
      const again = computeStatus({ ...c.job, status: got }, observed, now);
      assert.ok(statusEqual(got, again), `${c.name}: stable`);
    }
  }
});

test('computeStatus counts workers and renders the ready column', () => {
  const job = base().workers(3).obj();
  const pods = [makePod(job, 0, { phase: 'Running' }), makePod(job, 1, { phase: 'Running', ready: false }), makePod(job, 2, { phase: 'Failed', exitCode: 1 })];
  const got = computeStatus(job, { pods: classifyPods(pods, 0, 3) }, now);
  assert.deepEqual(got.workers, { active: 2, ready: 1, failed: 1, succeeded: 0 });
  assert.equal(got.readyText, '1/3');
  assert.equal(got.observedGeneration, 1);
});

test('classifyPods separates stale incarnations and out-of-range ranks', () => {
  const job = base().status({ restarts: 2 }).obj();
  const pods = [...makePods(job, 2, { phase: 'Running' }), makePod(job, 0, { incarnation: 1 }), makePod(job, 5, {})];
  const got = classifyPods(pods, 2, 2);
  assert.equal(got.current.size, 2);
  assert.equal(got.stale.length, 2);
  assert.equal(got.running, 2);
});

test('mergeProgress moves lastProgressTime only when the step advances', () => {
  const r = (step: number): ProgressReport => ({ phase: 'training', epoch: 1, totalEpochs: 3, step, totalSteps: 30, lastHeartbeat: T0, robustAccuracy: 0.5 });
  assert.equal(mergeProgress(undefined, r(1), 'A')?.lastProgressTime, 'A');
  assert.equal(mergeProgress({ step: 1, lastProgressTime: 'A' }, r(1), 'B')?.lastProgressTime, 'A');
  assert.equal(mergeProgress({ step: 1, lastProgressTime: 'A' }, r(2), 'B')?.lastProgressTime, 'B');
  assert.equal(mergeProgress({ step: 1 }, undefined, 'B')?.step, 1);
  assert.equal(mergeProgress(undefined, r(4), 'A')?.robustAccuracy, 0.5);
  const { robustAccuracy: _dropped, ...noEval } = r(5);
  assert.equal(mergeProgress({ step: 4, robustAccuracy: 0.5 }, noEval, 'C')?.robustAccuracy, 0.5, 'the last evaluation is kept');
});

test('progressRemainingMs counts from the later of Running and the last step', () => {
  const job = base().runPolicy({ progressDeadlineSeconds: 100 }).obj();
  const st = runningStatus({ progress: { lastProgressTime: '2026-01-01T00:09:00.000Z' } });
  assert.equal(progressRemainingMs(job, st, now), 40_000);
  assert.equal(progressRemainingMs(base().obj(), st, now), undefined);
});

test('computeEvents reports transitions once, Warnings for failures and restarts', () => {
  const before: DATJobStatus = { conditions: [created, running], restarts: 0 };
  const after: DATJobStatus = { conditions: [created, cond('Running', 'False', 'WorkerFailed'), cond('Restarting', 'True', 'WorkerFailed')], restarts: 1 };
  assert.deepEqual(computeEvents(before, after), [{ type: 'Warning', reason: 'WorkerFailed', message: 'm' }]);
  assert.deepEqual(computeEvents(after, after), []);
  const again: DATJobStatus = { ...after, restarts: 2 };
  assert.equal(computeEvents(after, again).length, 1);
  assert.deepEqual(computeEvents(undefined, { conditions: [created] }), [{ type: 'Normal', reason: 'JobCreated', message: 'm' }]);
});

test('a failed worker\'s termination message reaches the Failed condition and the event', () => {
  const job = base().status(runningStatus()).obj();
  const cases = [
    { message: 'invalid --eps 2: expected a number in [0, 1] for the L-inf attack pgd', want: /worker 0 exited with code 2 \(invalid --eps 2: expected a number in \[0, 1\]/ },
    // The kubelet's FallbackToLogsOnError tail: the last line counts, the CLI's prefix goes.
    { message: 'INFO Loaded mnist\ndat: error: cannot write /out: read-only file system (EROFS)\n', want: /worker 0 exited with code 2 \(cannot write \/out: read-only file system \(EROFS\)\)/ },
    // A final progress report (JSON) is not a failure's cause.
    { message: '{"epoch":1,"totalEpochs":1,"step":3,"totalSteps":3}', want: /^worker 0 exited with code 2$|worker 0 exited with code 2[^(]*$/ },
  ];
  for (const c of cases) {
    const pods = [makePod(job, 0, { phase: 'Failed', exitCode: 2, message: c.message }), makePod(job, 1, { phase: 'Running' })];
    const got = computeStatus(job, { pods: classifyPods(pods, 0, 2) }, now);
    const failed = got.conditions?.find((x) => x.type === 'Failed');
    assert.match(failed?.message ?? '', c.want, `condition message for ${JSON.stringify(c.message)}`);
    const events = computeEvents(job.status, got);
    assert.ok(events.some((e) => c.want.test(e.message)), `an event carries it: ${JSON.stringify(events)}`);
  }
  const long = 'x'.repeat(1000);
  const pods = [makePod(job, 0, { phase: 'Failed', exitCode: 2, message: long }), makePod(job, 1, { phase: 'Running' })];
  const failed = computeStatus(job, { pods: classifyPods(pods, 0, 2) }, now).conditions?.find((x) => x.type === 'Failed');
  assert.ok((failed?.message.length ?? 0) < 400, `a long message is cut (${failed?.message.length} chars)`);
});

test('a spec that can never start fails with InvalidSpec before any pod, and a Warning', () => {
  const job = base().training({ batchSizePerWorker: 65_536 }).obj();
  const got = computeStatus(job, { pods: classifyPods([], 0, 2) }, now);
  assert.equal(got.phase, 'Failed');
  assert.ok(got.completionTime !== undefined);
  const failed = got.conditions?.find((x) => x.type === 'Failed');
  assert.deepEqual([failed?.status, failed?.reason], ['True', 'InvalidSpec']);
  assert.match(failed?.message ?? '', /training\.batchSizePerWorker 65536 x 2 workers .*: not starting any worker$/);
  assert.deepEqual(
    computeEvents(job.status, got).filter((e) => e.reason === 'InvalidSpec').map((e) => e.type),
    ['Warning'],
  );
  assert.ok(statusEqual(got, computeStatus({ ...job, status: got }, { pods: classifyPods([], 0, 2) }, now)), 'stable');
});

test('a refused create makes the job Blocked; it clears once every pod exists', () => {
  const refusal = { message: 'failed to create pod ns/j-worker-0: HTTP 403: serviceaccount "sa" not found' };
  const cases: { name: string; job: DATJob; pods: readonly PodState[]; refusal?: { message: string }; want: { phase: string; blocked?: [string, string] } }[] = [
    { name: 'refused on the first pass', job: base().obj(), pods: [], refusal, want: { phase: 'Blocked', blocked: ['True', 'CreateRefused'] } },
    {
      name: 'still Blocked while waiting out the backoff (operator restarted: no refusal in memory)',
      job: base().status({ conditions: [created, { ...cond('Blocked', 'True', 'CreateRefused'), message: refusal.message }] }).obj(),
      pods: [],
      want: { phase: 'Blocked', blocked: ['True', 'CreateRefused'] },
    },
    {
      name: 'some pods created, one refused: still Blocked',
      job: base().status({ conditions: [created, { ...cond('Blocked', 'True', 'CreateRefused'), message: refusal.message }] }).obj(),
      pods: [{ phase: 'Pending' }],
      want: { phase: 'Blocked', blocked: ['True', 'CreateRefused'] },
    },
    {
      name: 'every pod exists: Blocked False, Pending',
      job: base().status({ conditions: [created, { ...cond('Blocked', 'True', 'CreateRefused'), message: refusal.message }] }).obj(),
      pods: [{ phase: 'Pending' }, { phase: 'Pending' }],
      want: { phase: 'Pending', blocked: ['False', 'ChildrenCreated'] },
    },
    { name: 'never refused: no Blocked condition', job: base().obj(), pods: [], want: { phase: 'Pending' } },
  ];
  for (const c of cases) {
    const pods = c.pods.map((s, rank) => makePod(c.job, rank, s));
    const got = computeStatus(c.job, { pods: classifyPods(pods, 0, 2), refusal: c.refusal }, now);
    assert.equal(got.phase, c.want.phase, c.name);
    const blocked = got.conditions?.find((x) => x.type === 'Blocked');
    assert.deepEqual(blocked === undefined ? undefined : [blocked.status, blocked.reason], c.want.blocked, c.name);
    if (c.refusal !== undefined) assert.equal(blocked?.message, c.refusal.message, `${c.name}: the API server's message`);
  }
});

test('Blocked is a Warning when it starts and when its cause changes, not on every pass', () => {
  const blocked = (message: string): DATJobStatus => ({ conditions: [created, { ...cond('Blocked', 'True', 'CreateRefused'), message }] });
  assert.deepEqual(computeEvents({ conditions: [created] }, blocked('no sa')), [{ type: 'Warning', reason: 'CreateRefused', message: 'no sa' }]);
  assert.deepEqual(computeEvents(blocked('no sa'), blocked('no sa')), []);
  assert.deepEqual(computeEvents(blocked('no sa'), blocked('quota exceeded')), [{ type: 'Warning', reason: 'CreateRefused', message: 'quota exceeded' }]);
});

test('a refusal message is capped for the condition', () => {
  const job = base().obj();
  const got = computeStatus(job, { pods: classifyPods([], 0, 2), refusal: { message: 'x'.repeat(10_000) } }, now);
  const msg = got.conditions?.find((x) => x.type === 'Blocked')?.message ?? '';
  assert.ok(msg.length <= 4096 && msg.endsWith('(truncated)'), `${msg.length} chars`);
});

const FINAL: FinalEvaluationReport = {
  attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
  norm: 'linf',
  eps: 0.3,
  examples: 1000,
  cleanAccuracy: 0.982,
  perAttack: [
    { attack: 'apgd-ce', robustAccuracy: 0.861, seconds: 120 },
    { attack: 'apgd-t', robustAccuracy: 0.843, seconds: 300 },
    { attack: 'fab-t', robustAccuracy: 0.842, seconds: 200 },
    { attack: 'square', robustAccuracy: 0.84, seconds: 78 },
  ],
  robustAccuracy: 0.84,
  seconds: 698,
};
const FINAL_STATUS = {
  attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
  eps: 0.3,
  examples: 1000,
  cleanAccuracy: 0.982,
  perAttack: [
    { attack: 'apgd-ce', robustAccuracy: 0.861 },
    { attack: 'apgd-t', robustAccuracy: 0.843 },
    { attack: 'fab-t', robustAccuracy: 0.842 },
    { attack: 'square', robustAccuracy: 0.84 },
  ],
  robustAccuracy: 0.84,
  seconds: 698,
};
const doneReport = (finalEvaluation?: FinalEvaluationReport): ProgressReport => ({
  phase: 'done', epoch: 3, totalEpochs: 3, step: 30, totalSteps: 30, lastHeartbeat: T0, cleanAccuracy: 0.98, robustAccuracy: 0.9, ...(finalEvaluation !== undefined ? { finalEvaluation } : {}),
});

test('computeStatus: status.evaluation with and without a final evaluation', () => {
  const job = base().evaluation({ attacks: ['autoattack'] }).status(runningStatus()).obj();
  const succeeded = makePods(job, 2, { phase: 'Succeeded', exitCode: 0 });
  const cases: { name: string; job: DATJob; progress?: ProgressReport; want: unknown }[] = [
    { name: 'no report: no evaluation', job, want: undefined },
    { name: 'a report without a final evaluation (spec.evaluation unset, or still training): none', job, progress: doneReport(), want: undefined },
    { name: 'the final report carries it: per-attack and ensemble accuracy', job, progress: doneReport(FINAL), want: FINAL_STATUS },
    { name: 'kept once written, when later reports lack it', job: base().status(runningStatus({ evaluation: FINAL_STATUS })).obj(), progress: doneReport(), want: FINAL_STATUS },
    {
      name: 'a job already Succeeded still takes it (termination message read after the phase write)',
      job: base().status({ ...runningStatus(), phase: 'Succeeded', conditions: [created, cond('Succeeded', 'True', 'AllWorkersSucceeded')] }).obj(),
      progress: doneReport(FINAL),
      want: FINAL_STATUS,
    },
  ];
  for (const c of cases) {
    const got = computeStatus(c.job, { pods: classifyPods(succeeded, 0, 2), progress: c.progress }, now);
    assert.deepEqual(got.evaluation, c.want, c.name);
    assert.equal(got.phase, 'Succeeded', c.name);
  }
});

test('computeEvaluationStatus copies the fields the CRD declares and keeps the previous one without a report', () => {
  assert.deepEqual(computeEvaluationStatus(undefined, FINAL), FINAL_STATUS);
  assert.deepEqual(computeEvaluationStatus(FINAL_STATUS, undefined), FINAL_STATUS);
  assert.equal(computeEvaluationStatus(undefined, undefined), undefined);
});

test('parseProgressReport keeps a well-formed final evaluation and drops a malformed one (not the report)', () => {
  const cases: { name: string; input: unknown; want: FinalEvaluationReport | undefined }[] = [
    { name: 'well-formed', input: doneReport(FINAL), want: FINAL },
    { name: 'robust accuracy a string', input: { ...doneReport(), finalEvaluation: { ...FINAL, robustAccuracy: '0.84' } }, want: undefined },
    { name: 'perAttack not a list', input: { ...doneReport(), finalEvaluation: { ...FINAL, perAttack: {} } }, want: undefined },
    { name: 'attacks with a number', input: { ...doneReport(), finalEvaluation: { ...FINAL, attacks: [1] } }, want: undefined },
  ];
  for (const c of cases) {
    const got = parseProgressReport(c.input);
    assert.equal(got?.step, 30, `${c.name}: the report itself is kept`);
    assert.deepEqual(got?.finalEvaluation, c.want, c.name);
  }
});

test('rank 0\'s termination message brings the final evaluation to the status', () => {
  const job = base().evaluation({ attacks: ['autoattack'] }).status(runningStatus()).obj();
  // As run-distributed-worker.ts writes it: the last progress report, with its rank fields, as JSON.
  const message = JSON.stringify({ ...doneReport(FINAL), rank: 0, worldSize: 2, globalBatch: 256 });
  assert.ok(Buffer.byteLength(message) < 4096, 'fits the kubelet\'s 4096-byte termination message');
  const pods = [makePod(job, 0, { phase: 'Succeeded', exitCode: 0, message }), makePod(job, 1, { phase: 'Succeeded', exitCode: 0 })];
  const progress = readTerminationReport(pods[0]);
  const got = computeStatus(job, { pods: classifyPods(pods, 0, 2), progress }, now);
  assert.deepEqual(got.evaluation, FINAL_STATUS);
});
