/**
 * `npm run bench:operator`: the operator at scale, as its own process, against
 * a real control plane (etcd + kube-apiserver + kube-controller-manager from
 * test/support/control-plane.ts; no kubelet, so pods stay Pending: this
 * measures the operator, not training).
 *
 * 1. Start the control plane and install the DATJob CRD.
 * 2. Start `dat-operator` (dist/operator/main.js, or `--operator-entry`) with
 *    `--concurrency` (default: the operator's own default); wait for /readyz;
 *    read its idle RSS.
 * 3. Create `--jobs` DATJobs (default 200) of `--replicas` workers (default 2)
 *    in one namespace, 20 requests at a time.
 * 4. Poll the API server until every job's Service, pods, ring TLS Secret and
 *    NetworkPolicy exist: the time to all children.
 * 5. Let the queue drain, then read the operator's /metrics: reconcile p50 and
 *    p99 and queue-wait p99 from its histograms (interpolated like PromQL's
 *    histogram_quantile, so as fine as the buckets), and its RSS (VmRSS) and
 *    peak RSS (VmHWM) from /proc.
 * 6. Delete every DATJob; wait until the garbage collector removed their pods;
 *    wait `--settle-seconds` (default 15); read the RSS after deletion.
 *    With `--big-job N`, then create one job of N workers and time it the same way.
 * 7. In this process: the desired state of one 1,024-replica job (Service, CA
 *    Secret, 1,024 pods) built with the operator's pure builders, timed
 *    (median of 5), and the bytes of a pod at 2 and at 1,024 replicas.
 * 8. Print the tables, check the goals, write bench/results/operator.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { DATJob } from '../operator/api/types.js';
import { buildHeadlessService } from '../operator/desired/headless-service.js';
import { buildRingTlsSecret } from '../operator/desired/ring-tls-secret.js';
import { buildWorkerPod } from '../operator/desired/worker-pod.js';
import { createJobCa } from '../common/certs.js';
import { getErrorMessage } from '../common/errors.js';
import { freePort, startControlPlane, type ControlPlane } from '../test/support/control-plane.js';
import { makeDATJob } from '../test/support/fixtures/datjob-builder.js';
import { createTestNamespace, waitFor } from '../test/support/kube.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { DATJobs, installDATJobCRD } from '../test/integration/operator/_crd.js';
import { histogramCount, histogramQuantile, parseHistogram } from './lib/prom-histogram.js';
import { printTable, writeResult } from './lib/report.js';

/** The goals (issue 20, operator items 4-6). */
export const GOALS = { peakRssMiB: 200, desiredStateMs: 2000, bigJobReplicas: 1024 } as const;
/** Requests the bench itself keeps in flight when creating or deleting jobs. */
const CLIENT_PARALLELISM = 20;
const MIB = 1024 * 1024;
/** USER_HZ of /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Args {
  readonly jobs: number;
  readonly replicas: number;
  readonly concurrency?: number;
  readonly settleSeconds: number;
  /** Replicas of one more job created after the others are gone (0: skip). */
  readonly bigJob: number;
  readonly operatorEntry: string;
  readonly label: string;
}

function parseArgs(argv: readonly string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const int = (name: string, dflt: number): number => {
    const v = get(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  const c = get('concurrency');
  return {
    jobs: int('jobs', 200),
    replicas: int('replicas', 2),
    ...(c === undefined ? {} : { concurrency: int('concurrency', 0) }),
    settleSeconds: int('settle-seconds', 15),
    bigJob: int('big-job', 0),
    operatorEntry: get('operator-entry') ?? join(REPO_ROOT, 'dist', 'operator', 'main.js'),
    label: get('label') ?? 'current',
  };
}

/** VmRSS and VmHWM (peak) of `pid`, in MiB. */
async function rssOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function forEachLimited<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The operator as a child process, logging to `logPath`. */
async function startOperatorProcess(cp: ControlPlane, args: Args, logPath: string): Promise<{ child: ChildProcess; metricsPort: number; exited: Promise<number | null> }> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const flags = [
    '--kubeconfig', cp.kubeconfigPath, '--metrics-port', String(metricsPort), '--health-port', String(healthPort),
    '--leader-elect=false', '--network-policy=true', '--operator-namespace', 'dat-system',
    ...(args.concurrency === undefined ? [] : ['--concurrency', String(args.concurrency)]),
  ];
  const child = spawn(process.execPath, [args.operatorEntry, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`operator exited with code ${child.exitCode}; log in ${logPath}`);
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      return res.ok;
    },
    { description: 'operator ready', timeoutMs: 60_000, intervalMs: 200 },
  );
  return { child, metricsPort, exited };
}

/**
 * Counts of the children in the bench's own namespace (nothing else creates
 * pods, Services, Secrets or NetworkPolicies there). Each list asks for one
 * item and reads the rest from `remainingItemCount`, so polling does not make
 * the API server serialise every pod several times a second (it shares the
 * CPU with the operator being measured); a server that leaves the count out
 * gets a full list instead.
 */
async function countChildren(core: CoreV1Api, net: NetworkingV1Api, namespace: string): Promise<{ pods: number; services: number; secrets: number; policies: number }> {
  type List = { items: unknown[]; metadata?: { remainingItemCount?: number; _continue?: string } };
  const count = async (list: (q: { namespace: string; limit?: number }) => Promise<List>): Promise<number> => {
    const first = await list({ namespace, limit: 1 });
    if (first.metadata?.remainingItemCount !== undefined) return first.items.length + first.metadata.remainingItemCount;
    if (!first.metadata?._continue) return first.items.length;
    return (await list({ namespace })).items.length;
  };
  const [pods, services, secrets, policies] = await Promise.all([
    count((q) => core.listNamespacedPod(q)),
    count((q) => core.listNamespacedService(q)),
    count((q) => core.listNamespacedSecret(q)),
    count((q) => net.listNamespacedNetworkPolicy(q)),
  ]);
  return { pods, services, secrets, policies };
}

/** CPU seconds (user + system) `pid` has used. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Step 7: building the desired state of one big job with the pure builders, in ms (median of `runs`). */
async function timeDesiredState(replicas: number, runs = 5): Promise<{ medianMs: number; podBytes2: number; podBytesBig: number; totalPodBytes: number }> {
  const job = (n: number): DATJob => makeDATJob('a'.repeat(48)).namespace('bench').uid('u').workers(n).obj();
  const big = job(replicas);
  const times: number[] = [];
  let totalPodBytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const service = buildHeadlessService(big);
    const secret = buildRingTlsSecret(big, await createJobCa({ namespace: 'bench', name: big.metadata.name ?? '' }));
    const pods = Array.from({ length: replicas }, (_, r) => buildWorkerPod(big, r));
    times.push(performance.now() - t0);
    totalPodBytes = pods.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p)), 0);
    if (service.metadata === undefined || secret.data === undefined) throw new Error('builders returned nothing');
  }
  times.sort((a, b) => a - b);
  const podBytes = (j: DATJob): number => Buffer.byteLength(JSON.stringify(buildWorkerPod(j, 1)));
  return { medianMs: times[Math.floor(times.length / 2)]!, podBytes2: podBytes(job(2)), podBytesBig: podBytes(big), totalPodBytes };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'dat-bench-operator-'));
  const logPath = join(dir, 'operator.log');
  // Step 7 first, in a quiet process.
  const desired = await timeDesiredState(GOALS.bigJobReplicas);

  // Step 1
  const cp = await startControlPlane({ controllerManager: true });
  let op: Awaited<ReturnType<typeof startOperatorProcess>> | undefined;
  try {
    await installDATJobCRD(cp);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    const jobsApi = new DATJobs(cp.kubeConfig);
    const ns = (await createTestNamespace(cp.kubeConfig, 'bench')).name;

    // Step 2
    op = await startOperatorProcess(cp, args, logPath);
    await sleep(3_000);
    const idle = await rssOf(op.child.pid!);
    const cpuBefore = await cpuSecondsOf(op.child.pid!);

    // Step 3
    const names = Array.from({ length: args.jobs }, (_, i) => `job-${i}`);
    const t0 = performance.now();
    await forEachLimited(names, CLIENT_PARALLELISM, async (name) => {
      await jobsApi.create(makeDATJob(name).namespace(ns).workers(args.replicas).obj());
    });
    const createdMs = performance.now() - t0;

    // Step 4
    const want = { pods: args.jobs * args.replicas, services: args.jobs, secrets: args.jobs, policies: args.jobs };
    await waitFor(
      async () => {
        const c = await countChildren(core, net, ns);
        return c.pods === want.pods && c.services === want.services && c.secrets === want.secrets && c.policies === want.policies;
      },
      { description: `all children of ${args.jobs} jobs`, timeoutMs: 300_000, intervalMs: 250 },
    );
    const allChildrenMs = performance.now() - t0;
    const cpuToAllChildren = (await cpuSecondsOf(op.child.pid!)) - cpuBefore;
    const atJobs = await rssOf(op.child.pid!);

    // Step 5: the status writes after the last child still queue reconciles; let them finish.
    await sleep(5_000);
    const metricsText = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
    const reconcile = parseHistogram(metricsText, 'dat_operator_reconcile_duration_seconds');
    const queueWait = parseHistogram(metricsText, 'dat_operator_queue_wait_seconds');
    const concurrency = Number(/--concurrency N\s+concurrent reconciles.*\(default (\d+)\)/.exec(await usageOf(args.operatorEntry))?.[1] ?? NaN);
    const heapAtJobs = heapOf(metricsText);
    const steady = await rssOf(op.child.pid!);

    // Step 6
    const tDel = performance.now();
    await forEachLimited(names, CLIENT_PARALLELISM, (name) => jobsApi.delete(ns, name));
    await waitFor(
      async () => {
        const c = await countChildren(core, net, ns);
        return c.pods === 0 && c.services === 0;
      },
      { description: 'children garbage-collected', timeoutMs: 600_000, intervalMs: 500 },
    );
    const deletedMs = performance.now() - tDel;
    await sleep(args.settleSeconds * 1000);
    const after = await rssOf(op.child.pid!);
    const heapAfter = heapOf(await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text());
    const big = args.bigJob > 0 ? await runBigJob(args.bigJob, ns, op.child.pid!, jobsApi, core, net) : undefined;
    const errors = (await readFile(logPath, 'utf8')).split('\n').filter((l) => l.includes('Failed to reconcile')).length;

    // Step 8
    const q = (b: typeof reconcile, p: number): number | undefined => (b === undefined ? undefined : histogramQuantile(p, b));
    const result = {
      label: args.label,
      operatorEntry: args.operatorEntry,
      jobs: args.jobs,
      replicas: args.replicas,
      concurrency: args.concurrency ?? concurrency,
      createRequestsSeconds: createdMs / 1000,
      allChildrenSeconds: allChildrenMs / 1000,
      operatorCpuSecondsToAllChildren: cpuToAllChildren,
      loadAverage1m: loadavg()[0],
      reconciles: reconcile === undefined ? undefined : histogramCount(reconcile),
      reconcileP50Seconds: q(reconcile, 0.5),
      reconcileP99Seconds: q(reconcile, 0.99),
      queueWaitP99Seconds: q(queueWait, 0.99),
      reconcileErrorsLogged: errors,
      rssMiB: { idle: idle.rssMiB, atAllChildren: atJobs.rssMiB, steady: steady.rssMiB, peak: after.peakMiB, afterDeletion: after.rssMiB },
      heapMiB: { steady: heapAtJobs, afterDeletion: heapAfter },
      deletionSeconds: deletedMs / 1000,
      settleSeconds: args.settleSeconds,
      ...(big === undefined ? {} : { bigJob: big }),
      desiredState: { replicas: GOALS.bigJobReplicas, medianMs: desired.medianMs, podBytesAt2: desired.podBytes2, podBytesAtBig: desired.podBytesBig, totalPodBytes: desired.totalPodBytes },
    };
    printTable(
      `Operator at scale: ${args.jobs} DATJobs x ${args.replicas} workers, concurrency ${result.concurrency} (${args.label})`,
      ['measure', 'value'],
      [
        ['create requests done (s)', result.createRequestsSeconds],
        ['all children exist (s)', result.allChildrenSeconds],
        ['operator CPU until then (s)', cpuToAllChildren],
        ['machine load average, 1 min', result.loadAverage1m],
        ['reconciles', result.reconciles],
        ['reconcile p50 (ms)', scaleMs(result.reconcileP50Seconds)],
        ['reconcile p99 (ms)', scaleMs(result.reconcileP99Seconds)],
        ['queue wait p99 (ms)', scaleMs(result.queueWaitP99Seconds)],
        ['reconcile errors logged', errors],
        ['RSS idle (MiB)', idle.rssMiB],
        ['RSS at all children (MiB)', atJobs.rssMiB],
        ['RSS peak, VmHWM (MiB)', after.peakMiB],
        [`RSS ${args.settleSeconds} s after deletion (MiB)`, after.rssMiB],
        ['V8 heap used / total, steady (MiB)', `${fmt(heapAtJobs.used)} / ${fmt(heapAtJobs.total)}`],
        ['external memory, steady (MiB)', heapAtJobs.external],
        ['V8 heap used / total, after deletion (MiB)', `${fmt(heapAfter.used)} / ${fmt(heapAfter.total)}`],
        ['children deleted by GC (s)', result.deletionSeconds],
      ],
    );
    if (big !== undefined) {
      printTable(
        `One ${big.replicas}-replica DATJob on the same operator, after the others were deleted`,
        ['measure', 'value'],
        [
          ['all pods, Secret, Service exist (s)', big.allChildrenSeconds],
          ['RSS when they exist (MiB)', big.rssMiB],
          ['RSS peak, VmHWM, whole run (MiB)', big.peakMiB],
        ],
      );
    }
    printTable(
      `Desired state of one ${GOALS.bigJobReplicas}-replica job (pure builders, median of 5)`,
      ['measure', 'value'],
      [
        ['build time (ms)', desired.medianMs],
        ['pod bytes at 2 replicas', desired.podBytes2],
        [`pod bytes at ${GOALS.bigJobReplicas} replicas`, desired.podBytesBig],
        [`all ${GOALS.bigJobReplicas} pods (MiB)`, desired.totalPodBytes / MIB],
      ],
    );
    const checks = [
      { goal: `RSS peak < ${GOALS.peakRssMiB} MiB`, ok: after.peakMiB < GOALS.peakRssMiB },
      { goal: `desired state of ${GOALS.bigJobReplicas} replicas < ${GOALS.desiredStateMs} ms`, ok: desired.medianMs < GOALS.desiredStateMs },
    ];
    printTable('Goals', ['goal', 'met'], checks.map((c) => [c.goal, c.ok ? 'yes' : 'NO']));
    const path = await writeResult('operator', { ...result, goals: checks });
    process.stdout.write(`\nwrote ${path}\n`);
  } finally {
    if (op !== undefined && op.child.exitCode === null) {
      op.child.kill('SIGTERM');
      await Promise.race([op.exited, sleep(10_000)]);
      if (op.child.exitCode === null) op.child.kill('SIGKILL');
    }
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The operator's own Node memory gauges (prom-client default metrics), in MiB. */
function heapOf(metricsText: string): { used: number; total: number; external: number } {
  const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? NaN) / MIB;
  return {
    used: gauge('dat_operator_nodejs_heap_size_used_bytes'),
    total: gauge('dat_operator_nodejs_heap_size_total_bytes'),
    external: gauge('dat_operator_nodejs_external_memory_bytes'),
  };
}

function fmt(mib: number): string {
  return mib.toFixed(1);
}

/** Optional step: one job of `replicas` workers, timed until its children exist, then deleted. */
async function runBigJob(replicas: number, ns: string, pid: number, jobsApi: DATJobs, core: CoreV1Api, net: NetworkingV1Api): Promise<{ replicas: number; allChildrenSeconds: number; rssMiB: number; peakMiB: number }> {
  const t0 = performance.now();
  // A per-worker batch of 4 keeps the global batch within mnist's 8,000 training examples (the operator checks it).
  await jobsApi.create(makeDATJob('big').namespace(ns).workers(replicas).training({ batchSizePerWorker: 4 }).obj());
  await waitFor(
    async () => {
      const c = await countChildren(core, net, ns);
      return c.pods === replicas && c.services === 1 && c.secrets === 1;
    },
    { description: `${replicas} pods of one job`, timeoutMs: 600_000, intervalMs: 500 },
  );
  const seconds = (performance.now() - t0) / 1000;
  const mem = await rssOf(pid);
  await jobsApi.delete(ns, 'big');
  return { replicas, allChildrenSeconds: seconds, rssMiB: mem.rssMiB, peakMiB: mem.peakMiB };
}

function scaleMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}

/** `dat-operator --help` of the measured build (for its default concurrency). */
async function usageOf(entry: string): Promise<string> {
  const child = spawn(process.execPath, [entry, '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:operator failed: ${getErrorMessage(err)}\n`);
  process.exit(1);
});
