/**
 * The DATJob reconcile: level-triggered and idempotent. It reads only from the
 * informer caches ({@link ClusterReader}) and writes only through
 * {@link ClusterWriter}; every decision comes from the pure `computeStatus`.
 */
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ProgressReport } from '../worker/contract.js';
import { DatError, getErrorMessage } from '../worker/util/errors.js';
import type { Logger } from '../worker/util/log.js';
import { silentLogger } from '../worker/util/log.js';
import type { DATJob, DATJobStatus } from './api/types.js';
import type { ClusterWriter } from './apply.js';
import { DEFAULTS } from './constants.js';
import { buildHeadlessService } from './desired/headless-service.js';
import { buildNetworkPolicy, type OperatorSelector } from './desired/network-policy.js';
import { buildRingTlsSecret, jobIncarnation, staleRingTlsSecretNames } from './desired/ring-tls-secret.js';
import { buildWorkerPod } from './desired/worker-pod.js';
import { createJobCa } from '../worker/security/certs.js';
import { serviceName, workerPodName } from './names.js';
import { classifyPods, isPodDeleting, isPodTerminal } from './pods.js';
import { readTerminationReport } from './progress-report.js';
import {
  computeEvents,
  computeStatus,
  deadlineRemainingMs,
  isFinished,
  isSuspended,
  progressRemainingMs,
  statusEqual,
  ttlRemainingMs,
} from './status.js';

/** Cached reads the reconcile needs (informer caches in production). */
export interface ClusterReader {
  getJob(namespace: string, name: string): DATJob | undefined;
  /** Pods carrying the job-name label of `jobName`. */
  listPods(namespace: string, jobName: string): V1Pod[];
  getService(namespace: string, name: string): V1Service | undefined;
}

/** Latest progress of a job's rank 0 for one incarnation. */
export interface ProgressSource {
  get(namespace: string, name: string, incarnation: number): ProgressReport | undefined;
}

/** Hooks for metrics; all optional. */
export interface ReconcileObserver {
  onRestart?(job: DATJob): void;
}

/** The result of one reconcile. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/** Dependencies of the {@link Reconciler}. */
export interface ReconcilerOptions {
  readonly reader: ClusterReader;
  readonly writer: ClusterWriter;
  readonly progress?: ProgressSource;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Worker image for jobs without `spec.workers.image`. */
  readonly defaultImage?: string;
  readonly observer?: ReconcileObserver;
  /** Where the operator runs: each job gets a NetworkPolicy admitting it. Unset: no NetworkPolicy. */
  readonly networkPolicy?: OperatorSelector;
  readonly log?: Logger;
}

/** Reconciles DATJobs by `namespace/name`. */
export class Reconciler {
  private readonly opts: ReconcilerOptions;
  private readonly now: () => Date;
  private readonly log: Logger;
  /** Our last status write per job, so a lagging cache never makes us act on an older status. */
  private readonly written = new Map<string, DATJob>();

  constructor(opts: ReconcilerOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLogger;
  }

  /**
   * One pass:
   * 1. Get the DATJob; done if it is gone or being deleted.
   * 2. List its pods from the cache and classify them.
   * 3. Compute the status.
   * 4. Write it once if it changed, then emit Events.
   * 5. Act on the new status: clean up a finished job (TTL), delete pods of a
   *    suspended job or of an older incarnation, create the missing Service and pods.
   * 6. Return when to look again (deadlines).
   */
  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const key = `${namespace}/${name}`;
    // Step 1
    let job = this.freshest(key, this.opts.reader.getJob(namespace, name));
    if (job === undefined) {
      this.written.delete(key);
      return {};
    }
    if (job.metadata.deletionTimestamp != null) return {};
    const now = this.now();

    // Step 2
    const uid = job.metadata.uid;
    const pods = this.opts.reader.listPods(namespace, name).filter((p) => isOwnedBy(p, uid));
    const incarnation = job.status?.restarts ?? 0;
    const observedPods = classifyPods(pods, incarnation, job.spec.workers.replicas);
    // Rank 0's termination message carries the final evaluation once it exited.
    const progress = readTerminationReport(observedPods.current.get(0)) ?? this.opts.progress?.get(namespace, name, incarnation);

    // Step 3
    const status = computeStatus(job, { pods: observedPods, progress }, now);

    // Step 4
    if (!statusEqual(job.status, status)) {
      const before = job.status;
      job = await this.opts.writer.patchJobStatus(job, status);
      this.written.set(key, job);
      if ((status.restarts ?? 0) > (before?.restarts ?? 0)) this.opts.observer?.onRestart?.(job);
      for (const ev of computeEvents(before, status)) {
        this.log.info('Recorded event on DATJob', { job: key, reason: ev.reason, message: ev.message });
        await this.opts.writer.emitEvent(job, ev).catch((err: unknown) => this.log.warn('Failed to record event', { job: key, err: getErrorMessage(err) }));
      }
    }
    const current = job.status ?? status;

    // Step 5
    if (isFinished(current)) {
      await this.deletePods(selectPodsToClean(pods, job.spec.runPolicy?.cleanPodPolicy ?? DEFAULTS.cleanPodPolicy));
      const ttlLeft = ttlRemainingMs(job, current, now);
      if (ttlLeft === undefined) return {};
      if (ttlLeft > 0) return { requeueAfterMs: ttlLeft };
      this.log.info('Deleted DATJob after its TTL', { job: key });
      await this.opts.writer.deleteJob(namespace, name);
      return {};
    }
    if (isSuspended(job)) {
      await this.deletePods(pods);
      return {};
    }
    const currentIncarnation = current.restarts ?? 0;
    const live = classifyPods(pods, currentIncarnation, job.spec.workers.replicas);
    await this.deletePods(live.stale);
    if (this.opts.reader.getService(namespace, serviceName(name)) === undefined) {
      await this.opts.writer.createService(buildHeadlessService(job));
    }
    await this.createMissingPods(job, pods);

    // Step 6
    const waits = [deadlineRemainingMs(job, current, now), progressRemainingMs(job, current, now)].filter(
      (ms): ms is number => ms !== undefined,
    );
    return waits.length === 0 ? {} : { requeueAfterMs: Math.max(1, Math.min(...waits)) };
  }

  /** Creates every rank whose pod name is free; an old pod with the same name must go first. */
  private async createMissingPods(job: DATJob, pods: readonly V1Pod[]): Promise<void> {
    const taken = new Set(pods.map((p) => p.metadata?.name));
    const missing: V1Pod[] = [];
    for (let rank = 0; rank < job.spec.workers.replicas; rank++) {
      if (!taken.has(workerPodName(job.metadata.name ?? '', rank))) missing.push(buildWorkerPod(job, rank, { defaultImage: this.opts.defaultImage }));
    }
    if (missing.length > 0) await this.ensureRingSecurity(job);
    await runAll(
      missing,
      async (pod) => {
        // false: the cache had not seen our earlier create yet (409 counts as success).
        if (await this.opts.writer.createPod(pod)) this.log.info('Created worker pod', { pod: pod.metadata?.name, job: job.metadata.name });
      },
      `failed to create ${missing.length} worker pod(s) of datjob ${job.metadata.namespace ?? ''}/${job.metadata.name ?? ''}`,
    );
  }

  /**
   * Before the pods of an incarnation start: its ring TLS Secret (a new CA per
   * incarnation; 409 means an earlier pass created it, and that CA stays),
   * the previous incarnation's Secret deleted, and the job's NetworkPolicy.
   * A CA is made only when pods are about to be created.
   */
  private async ensureRingSecurity(job: DATJob): Promise<void> {
    const namespace = job.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    // One CA per incarnation, whatever the replicas: each worker issues its own rank certificate from it.
    const secret = buildRingTlsSecret(job, await createJobCa({ namespace, name }));
    if (await this.opts.writer.createSecret(secret)) {
      this.log.info('Created ring TLS secret', { secret: secret.metadata?.name, job: name, incarnation: jobIncarnation(job) });
    }
    for (const stale of staleRingTlsSecretNames(job)) await this.opts.writer.deleteSecret(namespace, stale);
    if (this.opts.networkPolicy !== undefined) await this.opts.writer.createNetworkPolicy(buildNetworkPolicy(job, this.opts.networkPolicy));
  }

  private async deletePods(pods: readonly V1Pod[]): Promise<void> {
    const targets = pods.filter((p) => !isPodDeleting(p));
    await runAll(targets, (p) => this.opts.writer.deletePod(p.metadata?.namespace ?? '', p.metadata?.name ?? ''), `failed to delete ${targets.length} pod(s)`);
    for (const p of targets) this.log.info('Deleted worker pod', { pod: p.metadata?.name });
  }

  /** The cached job, or our own later write when the cache has not caught up yet. */
  private freshest(key: string, cached: DATJob | undefined): DATJob | undefined {
    const mine = this.written.get(key);
    if (cached === undefined || mine === undefined) return cached;
    if (mine.metadata.uid !== cached.metadata.uid) {
      this.written.delete(key);
      return cached;
    }
    // resourceVersions are etcd revisions: comparing them numerically is what "newer" means here.
    if (Number(cached.metadata.resourceVersion) >= Number(mine.metadata.resourceVersion)) {
      this.written.delete(key);
      return cached;
    }
    return { ...cached, status: mine.status as DATJobStatus, metadata: { ...cached.metadata, resourceVersion: mine.metadata.resourceVersion } };
  }
}

/** Pods to delete once the job finished, per `cleanPodPolicy`. */
export function selectPodsToClean(pods: readonly V1Pod[], policy: string): V1Pod[] {
  if (policy === 'All') return [...pods];
  if (policy === 'Running') return pods.filter((p) => !isPodTerminal(p));
  return [];
}

/** True when `pod` has a controller reference to the job `uid`. */
export function isOwnedBy(pod: V1Pod, uid: string | undefined): boolean {
  return uid !== undefined && (pod.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

/** Runs `fn` over `items` in parallel and reports every failure together. */
async function runAll<T>(items: readonly T[], fn: (item: T) => Promise<void>, context: string): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length === 0) return;
  const retryable = errors.some((e) => !(e instanceof DatError) || e.retryable);
  throw new DatError(`${context}: ${errors.map(getErrorMessage).join('; ')}`, { retryable, cause: errors[0] });
}
