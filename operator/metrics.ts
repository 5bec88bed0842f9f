/** The operator's Prometheus metrics (prom-client) on a private registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DATJob } from './api/types.js';
import { PHASES } from './constants.js';

/**
 * Metric names, in one place for the Grafana dashboard and its tests. The
 * per-job series name the DATJob's namespace in `namespace` (as
 * kube-state-metrics does): scrape the operator with `honor_labels: true`.
 */
export const OPERATOR_METRIC_NAMES = {
  jobs: 'dat_operator_jobs',
  jobRestarts: 'dat_operator_job_restarts',
  reconcileDuration: 'dat_operator_reconcile_duration_seconds',
  reconcileErrors: 'dat_operator_reconcile_errors_total',
  gangRestarts: 'dat_operator_gang_restarts_total',
  leader: 'dat_operator_leader',
  workqueueDepth: 'dat_operator_workqueue_depth',
  workqueueAdds: 'dat_operator_workqueue_adds_total',
  queueWait: 'dat_operator_queue_wait_seconds',
} as const;

/** What the scrape-time gauges read. */
export interface MetricsSources {
  /** The DATJobs in the informer cache (jobs by phase, restarts per job). */
  readonly listJobs: () => readonly DATJob[];
  /** Keys waiting in the work queue now. @default () => 0 */
  readonly queueDepth?: () => number;
}

/** The metric set. */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileDuration: Histogram;
  /** Time a ready key waited in the work queue for a free reconcile worker. */
  readonly queueWait: Histogram;
  readonly reconcileErrors: Counter;
  readonly restarts: Counter;
  readonly leader: Gauge;
  /** Counts `WorkQueue.add` calls (before de-duplication, as client-go's `workqueue_adds_total`). */
  readonly workqueueAdds: Counter;
}

/** Creates the metrics; the gauges read `sources` at scrape time, so they are never stale. */
export function createMetrics({ listJobs, queueDepth }: MetricsSources): OperatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'dat_operator_' });
  new Gauge({
    name: OPERATOR_METRIC_NAMES.jobs,
    help: 'DATJobs by phase',
    labelNames: ['phase'],
    registers,
    collect() {
      const counts = new Map<string, number>(Object.values(PHASES).map((p) => [p, 0]));
      for (const j of listJobs()) {
        const phase = j.status?.phase ?? PHASES.pending;
        counts.set(phase, (counts.get(phase) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: OPERATOR_METRIC_NAMES.jobRestarts,
    help: 'Gang restarts of each DATJob so far (status.restarts)',
    labelNames: ['namespace', 'datjob'],
    registers,
    collect() {
      // Rebuilt on every scrape: a deleted job's series must go away, not linger at its last value.
      this.reset();
      for (const j of listJobs()) this.set({ namespace: j.metadata.namespace ?? '', datjob: j.metadata.name ?? '' }, j.status?.restarts ?? 0);
    },
  });
  new Gauge({
    name: OPERATOR_METRIC_NAMES.workqueueDepth,
    help: 'DATJob keys waiting in the work queue (not in flight, not delayed)',
    registers,
    collect() {
      this.set(queueDepth?.() ?? 0);
    },
  });
  return {
    registry,
    reconcileDuration: new Histogram({
      name: OPERATOR_METRIC_NAMES.reconcileDuration,
      help: 'Duration of one DATJob reconcile',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueWait: new Histogram({
      name: OPERATOR_METRIC_NAMES.queueWait,
      help: 'Time a DATJob waited in the work queue for a free reconcile worker (see --concurrency)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60],
      registers,
    }),
    reconcileErrors: new Counter({ name: OPERATOR_METRIC_NAMES.reconcileErrors, help: 'Reconciles that failed', registers }),
    restarts: new Counter({ name: OPERATOR_METRIC_NAMES.gangRestarts, help: 'Gang restarts of DATJobs', labelNames: ['namespace'], registers }),
    leader: new Gauge({ name: OPERATOR_METRIC_NAMES.leader, help: '1 while this replica holds the leader lease', registers }),
    workqueueAdds: new Counter({ name: OPERATOR_METRIC_NAMES.workqueueAdds, help: 'Keys added to the work queue, before de-duplication', registers }),
  };
}
