/**
 * The DATJob reconcile: level-triggered and idempotent. It reads only from the
 * informer caches ({@link ClusterReader}) and writes only through
 * {@link ClusterWriter}; every decision comes from the pure `computeStatus`.
 */
import type { V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { ProgressReport } from '../common/contract.js';
import { DatError, getErrorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import type { DATJob, DATJobStatus } from './api/types.js';
import { findRefusal } from './api-error.js';
import type { ClusterWriter } from './apply.js';
import { CREATE_RETRY_BACKOFF, DEFAULTS } from './constants.js';
import { buildHeadlessService } from './desired/headless-service.js';
import { buildNetworkPolicy, type OperatorSelector } from './desired/network-policy.js';
import { buildRingTlsSecret, jobIncarnation, ringTlsSecretName, staleRingTlsSecretNames } from './desired/ring-tls-secret.js';
import { buildWorkerPod } from './desired/worker-pod.js';
import { GROUP_RELEASE_ANNOTATIONS, needsGroupRelease } from './desired/kueue.js';
import { buildPodGroup, requeueRemainingMs } from './desired/pod-group.js';
import { createJobCa, type PemPair, type RingJobRef } from '../common/certs.js';
import { serviceName, workerPodName } from './names.js';
import { classifyPods, isPodDeleting, isPodTerminal } from './pods.js';
import { readTerminationReport } from './progress-report.js';
import { staleGangGraceSeconds } from './termination-grace.js';
import { findUnschedulable, schedulingRemainingMs, type UnschedulableGang } from './scheduling.js';
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
  /** Retry delays of a job whose children the API server refused (Blocked). @default CREATE_RETRY_BACKOFF */
  readonly createBackoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Creates a job's ring CA (one per incarnation). @default createJobCa */
  readonly issueCa?: (job: RingJobRef) => Promise<PemPair>;
  readonly log?: Logger;
}

/** The API server's latest refusal to create a child of one job, and when to try again. */
interface Refusal {
  readonly uid: string | undefined;
  /** A spec edit (new generation) may fix it: retry at once. */
  readonly generation: number | undefined;
  readonly attempts: number;
  readonly retryAt: number;
  readonly message: string;
}

/**
 * The ring TLS Secret of a job's current incarnation: known to exist, or
 * built but refused (kept, so a retry sends the same CA instead of making
 * another).
 */
interface RingSecretState {
  readonly uid: string | undefined;
  readonly name: string;
  readonly secret?: V1Secret;
  readonly exists: boolean;
}

/** Delay before retry `attempts` (1-based): initial x 2^(attempts-1), capped. */
export function computeRetryDelayMs(attempts: number, backoff: { readonly initialMs: number; readonly maxMs: number }): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

/** Reconciles DATJobs by `namespace/name`. */
export class Reconciler {
  private readonly opts: ReconcilerOptions;
  private readonly now: () => Date;
  private readonly log: Logger;
  /** Our last status write per job, so a lagging cache never makes us act on an older status. */
  private readonly written = new Map<string, DATJob>();
  /** Per job: the API server's latest refusal (in memory, like the work queue's backoff: an operator restart retries once at once). */
  private readonly refusals = new Map<string, Refusal>();
  private readonly ringSecrets = new Map<string, RingSecretState>();

  constructor(opts: ReconcilerOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLogger;
  }

  /**
   * One pass:
   * 1. Get the DATJob; done if it is gone or being deleted (after ending the
 *    Kueue groups of the pods it leaves).
   * 2. List its pods from the cache and classify them.
   * 3. Compute the status.
   * 4. Write it once if it changed, then emit Events.
   * 5. Act on the new status: clean up a finished job (TTL), delete pods of a
   *    suspended job or of an older incarnation, create the missing Service and pods.
   *    A create the API server refuses (4xx other than 409/429) is remembered:
   *    the next pass reports it (condition Blocked, Warning event) and creates
   *    nothing until its backoff ends; transient errors go to the work queue.
   *    A PodGroup whose gang waits unschedulable gets its requeue annotation.
   * 6. Return when to look again (deadlines, a scheduling timeout, the gang's
   *    next requeue, the Blocked retry).
   */
  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const key = `${namespace}/${name}`;
    // Step 1
    let job = this.freshest(key, this.opts.reader.getJob(namespace, name));
    if (job === undefined || job.metadata.deletionTimestamp != null) {
      if (job === undefined) {
        this.written.delete(key);
        this.refusals.delete(key);
        this.ringSecrets.delete(key);
      }
      // The garbage collector deletes the pods of a deleted job, but Kueue holds pods of a live group
      // (its finalizer) until replacements come: end the group so they can go and the quota is freed.
      await this.releaseKueueGroups(this.opts.reader.listPods(namespace, name).filter((p) => job === undefined || isOwnedBy(p, job.metadata.uid)));
      return {};
    }
    const now = this.now();

    // Step 2
    const uid = job.metadata.uid;
    const pods = this.opts.reader.listPods(namespace, name).filter((p) => isOwnedBy(p, uid));
    const incarnation = job.status?.restarts ?? 0;
    const observedPods = classifyPods(pods, incarnation, job.spec.workers.replicas);
    // Rank 0's termination message carries the final evaluation once it exited.
    const progress = readTerminationReport(observedPods.current.get(0)) ?? this.opts.progress?.get(namespace, name, incarnation);
    const refusal = this.currentRefusal(key, job);

    // Step 3
    const status = computeStatus(job, { pods: observedPods, progress, refusal }, now);

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
      // Pods kept by cleanPodPolicy still end their Kueue group, so its quota is released.
      await this.releaseKueueGroups(pods);
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
    // A gang replaced after a failure gets a short grace: its broken ring has nothing to save.
    await this.deletePods(live.stale, staleGangGraceSeconds(job, current));
    // A scheduling timeout still ahead needs a pass when it expires; one already past was acted on above.
    const unschedulable = findUnschedulable(live.current.values(), now);
    const schedulingLeft = schedulingRemainingMs(job, unschedulable);
    const waits = [
      deadlineRemainingMs(job, current, now),
      progressRemainingMs(job, current, now),
      schedulingLeft !== undefined && schedulingLeft > 0 ? schedulingLeft : undefined,
      await this.requeueGang(job, unschedulable),
    ].filter((ms): ms is number => ms !== undefined);
    if (refusal !== undefined && now.getTime() < refusal.retryAt) {
      waits.push(refusal.retryAt - now.getTime());
    } else if (!(await this.createChildren(key, job, pods, now))) {
      // Refused: the next pass records Blocked (one status write per pass), then waits out the backoff.
      waits.push(0);
    }

    // Step 6
    return waits.length === 0 ? {} : { requeueAfterMs: Math.max(1, Math.min(...waits)) };
  }

  /** The refusal that still applies to `job`: none after a spec edit or for a new job of the same name. */
  private currentRefusal(key: string, job: DATJob): Refusal | undefined {
    const r = this.refusals.get(key);
    if (r === undefined) return undefined;
    if (r.uid === job.metadata.uid && r.generation === job.metadata.generation) return r;
    this.refusals.delete(key);
    return undefined;
  }

  /**
   * Creates the missing Service and pods. Resolves to false when the API
   * server refused one (recorded with its next retry time); rethrows
   * transient errors for the work queue.
   */
  private async createChildren(key: string, job: DATJob, pods: readonly V1Pod[], now: Date): Promise<boolean> {
    const namespace = job.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    try {
      if (this.opts.reader.getService(namespace, serviceName(name)) === undefined) {
        await this.opts.writer.createService(buildHeadlessService(job));
      }
      await this.createMissingPods(job, pods);
    } catch (err) {
      if ((err instanceof DatError && err.retryable) || findRefusal(err) === undefined) throw err;
      const prev = this.refusals.get(key);
      const attempts = (prev?.attempts ?? 0) + 1;
      const delayMs = computeRetryDelayMs(attempts, this.opts.createBackoff ?? CREATE_RETRY_BACKOFF);
      const message = getErrorMessage(err);
      this.refusals.set(key, { uid: job.metadata.uid, generation: job.metadata.generation, attempts, retryAt: now.getTime() + delayMs, message });
      this.log.warn('Refused creation of a child of DATJob, retrying later', { job: key, attempts, retryInMs: delayMs, err: message });
      return false;
    }
    this.refusals.delete(key);
    return true;
  }

  /**
   * Creates every rank whose pod name is free (an old pod with the same name
   * must go first), in batches of 1, 2, 4, ... that stop at the first batch
   * with an error, as the Job controller's slow start does: a refused pod
   * costs one request, not one per rank.
   */
  private async createMissingPods(job: DATJob, pods: readonly V1Pod[]): Promise<void> {
    const taken = new Set(pods.map((p) => p.metadata?.name));
    const missing: V1Pod[] = [];
    for (let rank = 0; rank < job.spec.workers.replicas; rank++) {
      if (!taken.has(workerPodName(job.metadata.name ?? '', rank))) missing.push(buildWorkerPod(job, rank, { defaultImage: this.opts.defaultImage }));
    }
    if (missing.length === 0) return;
    await this.ensureRingSecurity(job);
    // The gang scheduler must know the group before its first member arrives.
    const group = buildPodGroup(job);
    if (group !== undefined) await this.opts.writer.applyPodGroup(group);
    for (let start = 0, size = 1; start < missing.length; start += size, size *= 2) {
      const batch = missing.slice(start, start + size);
      await runAll(
        batch,
        async (pod) => {
          // false: the cache had not seen our earlier create yet (409 counts as success).
          if (await this.opts.writer.createPod(pod)) this.log.info('Created worker pod', { pod: pod.metadata?.name, job: job.metadata.name });
        },
        `failed to create ${batch.length} of ${missing.length} missing worker pod(s) of datjob ${job.metadata.namespace ?? ''}/${job.metadata.name ?? ''}`,
      );
    }
  }

  /**
   * While a PodGroup's gang waits unschedulable, bumps the PodGroup's requeue
   * annotation once per interval (the gang scheduler retries its pods on a
   * PodGroup update, not when resources free up). Resolves to the time until
   * the next bump; undefined without a PodGroup or an unschedulable pod.
   */
  private async requeueGang(job: DATJob, unschedulable: UnschedulableGang | undefined): Promise<number | undefined> {
    if (unschedulable === undefined) return undefined;
    const group = buildPodGroup(job, unschedulable);
    if (group === undefined) return undefined;
    await this.opts.writer.applyPodGroup(group);
    return requeueRemainingMs(unschedulable.waitedMs);
  }

  /**
   * Before the pods of an incarnation start: its ring TLS Secret (a new CA per
   * incarnation; 409 means an earlier pass created it, and that CA stays),
   * the previous incarnation's Secret deleted, and the job's NetworkPolicy.
   * The CA is made only when pods are about to be created, and once per
   * incarnation: a Secret known to exist is not created again, and a refused
   * one is resent as built. One CA whatever the replicas: each worker issues
   * its own rank certificate from it (ring-tls-secret.ts).
   */
  private async ensureRingSecurity(job: DATJob): Promise<void> {
    const namespace = job.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    const key = `${namespace}/${name}`;
    const secretName = ringTlsSecretName(name, jobIncarnation(job));
    let known = this.ringSecrets.get(key);
    if (known !== undefined && (known.uid !== job.metadata.uid || known.name !== secretName)) known = undefined;
    if (known?.exists !== true) {
      let secret = known?.secret;
      if (secret === undefined) {
        const issue = this.opts.issueCa ?? createJobCa;
        secret = buildRingTlsSecret(job, await issue({ namespace, name }));
        this.log.info('Issued ring TLS CA', { job: key, incarnation: jobIncarnation(job) });
      }
      try {
        if (await this.opts.writer.createSecret(secret)) {
          this.log.info('Created ring TLS secret', { secret: secretName, job: name, incarnation: jobIncarnation(job) });
        }
      } catch (err) {
        this.ringSecrets.set(key, { uid: job.metadata.uid, name: secretName, secret, exists: false });
        throw err;
      }
      this.ringSecrets.set(key, { uid: job.metadata.uid, name: secretName, exists: true });
    }
    // Idempotent (404 and 409 are success), so they run whenever pods are missing.
    for (const stale of staleRingTlsSecretNames(job)) await this.opts.writer.deleteSecret(namespace, stale);
    if (this.opts.networkPolicy !== undefined) await this.opts.writer.createNetworkPolicy(buildNetworkPolicy(job, this.opts.networkPolicy));
  }

  /**
   * Marks Kueue-grouped pods `retriable-in-group: "false"`: the operator never
   * replaces a pod within its group (a new incarnation is a new group), so Kueue
   * may finish the group's Workload and release its quota once the pods are gone.
   */
  private async releaseKueueGroups(pods: readonly V1Pod[]): Promise<void> {
    const targets = pods.filter(needsGroupRelease);
    await runAll(
      targets,
      (p) => this.opts.writer.patchPodAnnotations(p.metadata?.namespace ?? '', p.metadata?.name ?? '', GROUP_RELEASE_ANNOTATIONS),
      `failed to end the Kueue group of ${targets.length} pod(s)`,
    );
  }

  private async deletePods(pods: readonly V1Pod[], gracePeriodSeconds?: number): Promise<void> {
    await this.releaseKueueGroups(pods);
    const targets = pods.filter((p) => !isPodDeleting(p));
    await runAll(targets, (p) => this.opts.writer.deletePod(p.metadata?.namespace ?? '', p.metadata?.name ?? '', gracePeriodSeconds), `failed to delete ${targets.length} pod(s)`);
    for (const p of targets) this.log.info('Deleted worker pod', { pod: p.metadata?.name, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) });
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

/** Distinct messages an aggregated error spells out; the rest are counted (1,024 refusals read as one). */
const MAX_LISTED_ERRORS = 3;

/**
 * Runs `fn` over `items` in parallel and reports every failure together:
 * retryable when any is, its cause the first non-retryable one otherwise
 * (so {@link findRefusal} sees the API server's refusal).
 */
async function runAll<T>(items: readonly T[], fn: (item: T) => Promise<void>, context: string): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length === 0) return;
  const retryable = errors.some((e) => !(e instanceof DatError) || e.retryable);
  const listed = [...new Set(errors.map(getErrorMessage))];
  const more = errors.length - Math.min(listed.length, MAX_LISTED_ERRORS);
  const message = `${context}: ${listed.slice(0, MAX_LISTED_ERRORS).join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
  throw new DatError(message, { retryable, cause: retryable ? errors[0] : errors.find((e) => findRefusal(e) !== undefined) ?? errors[0] });
}
