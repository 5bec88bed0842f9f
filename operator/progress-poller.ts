/**
 * Reads rank 0's `/progress` JSON (common/contract.ts) for every started job,
 * keeps the latest report per job and incarnation, and enqueues the job so the
 * reconcile copies it into `status.progress` and judges hangs. A report from an
 * older incarnation is never served for a newer one.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_METRICS_PORT, PROGRESS_PATH, type ProgressReport } from '../common/contract.js';
import { getErrorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import type { DATJob } from './api/types.js';
import { LABELS } from './constants.js';
import { objectKey } from './names.js';
import type { ProgressSource } from './reconciler.js';
import { parseProgressReport } from './progress-report.js';
import { isFinished, isSuspended } from './status.js';

export { parseProgressReport };

/** Fetches a progress report; injectable for tests. */
export type ProgressFetcher = (url: string, timeoutMs: number) => Promise<ProgressReport>;

/** Options of {@link ProgressPoller}. */
export interface ProgressPollerOptions {
  readonly listJobs: () => DATJob[];
  readonly listPods: (namespace: string, jobName: string) => V1Pod[];
  readonly enqueue: (key: string) => void;
  /** @default 10000 */
  readonly intervalMs?: number;
  /** @default 3000 */
  readonly timeoutMs?: number;
  readonly fetcher?: ProgressFetcher;
  readonly log?: Logger;
}

/** The default fetcher: global fetch with a timeout. */
export const httpFetcher: ProgressFetcher = async (url, timeoutMs) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const report = parseProgressReport(await res.json());
  if (report === undefined) throw new Error(`GET ${url}: not a progress report`);
  return report;
};

/** The poller; also the reconciler's {@link ProgressSource}. */
export class ProgressPoller implements ProgressSource {
  private readonly opts: ProgressPollerOptions;
  private readonly reports = new Map<string, { incarnation: number; report: ProgressReport }>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(opts: ProgressPollerOptions) {
    this.opts = opts;
  }

  get(namespace: string, name: string, incarnation: number): ProgressReport | undefined {
    const entry = this.reports.get(objectKey(namespace, name));
    return entry?.incarnation === incarnation ? entry.report : undefined;
  }

  start(): void {
    this.timer = setInterval(() => void this.pollOnce(), this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** One round over all started, unfinished jobs. */
  async pollOnce(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const log = this.opts.log ?? silentLogger;
    const fetcher = this.opts.fetcher ?? httpFetcher;
    try {
      const jobs = this.opts.listJobs().filter((j) => j.status?.startTime !== undefined && !isFinished(j.status) && !isSuspended(j));
      await Promise.all(
        jobs.map(async (job) => {
          const ns = job.metadata.namespace ?? '';
          const name = job.metadata.name ?? '';
          const key = objectKey(ns, name);
          const incarnation = job.status?.restarts ?? 0;
          const rank0 = this.opts.listPods(ns, name).find(
            (p) => p.metadata?.labels?.[LABELS.rank] === '0' && p.metadata.labels[LABELS.incarnation] === String(incarnation),
          );
          const ip = rank0?.status?.podIP;
          if (ip !== undefined && rank0?.status?.phase === 'Running') {
            const host = ip.includes(':') ? `[${ip}]` : ip;
            try {
              const report = await fetcher(`http://${host}:${DEFAULT_METRICS_PORT}${PROGRESS_PATH}`, this.opts.timeoutMs ?? 3_000);
              this.reports.set(key, { incarnation, report });
            } catch (err) {
              log.warn('Failed to read worker progress', { job: key, err: getErrorMessage(err) });
            }
          }
          // Enqueue even without a report: the reconcile judges the progress deadline.
          this.opts.enqueue(key);
        }),
      );
      const live = new Set(this.opts.listJobs().map((j) => objectKey(j.metadata.namespace ?? '', j.metadata.name ?? '')));
      for (const key of this.reports.keys()) if (!live.has(key)) this.reports.delete(key);
    } finally {
      this.polling = false;
    }
  }
}
