/** The operator's Prometheus metrics (prom-client) on a private registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DATJob } from './api/types.js';
import { PHASES } from './constants.js';

/** The metric set. */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileDuration: Histogram;
  /** Time a ready key waited in the work queue for a free reconcile worker. */
  readonly queueWait: Histogram;
  readonly reconcileErrors: Counter;
  readonly restarts: Counter;
  readonly leader: Gauge;
}

/** Creates the metrics; `listJobs` feeds the jobs-by-phase gauge at scrape time. */
export function createMetrics(listJobs: () => DATJob[]): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dat_operator_' });
  new Gauge({
    name: 'dat_operator_jobs',
    help: 'DATJobs by phase',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(Object.values(PHASES).map((p) => [p, 0]));
      for (const j of listJobs()) {
        const phase = j.status?.phase ?? PHASES.pending;
        counts.set(phase, (counts.get(phase) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  return {
    registry,
    reconcileDuration: new Histogram({
      name: 'dat_operator_reconcile_duration_seconds',
      help: 'Duration of one DATJob reconcile',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'dat_operator_queue_wait_seconds',
      help: 'Time a DATJob waited in the work queue for a free reconcile worker (see --concurrency)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60],
      registers: [registry],
    }),
    reconcileErrors: new Counter({ name: 'dat_operator_reconcile_errors_total', help: 'Reconciles that failed', registers: [registry] }),
    restarts: new Counter({ name: 'dat_operator_gang_restarts_total', help: 'Gang restarts of DATJobs', labelNames: ['namespace'], registers: [registry] }),
    leader: new Gauge({ name: 'dat_operator_leader', help: '1 while this replica holds the leader lease', registers: [registry] }),
  };
}
