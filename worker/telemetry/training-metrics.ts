/**
 * Prometheus metrics of a training worker (prom-client). The trainer feeds
 * {@link TrainingMetrics.observeProgress} (gauges, step counter) and
 * {@link TrainingMetrics.observeStep} (durations, once per step); the ring
 * code feeds {@link TrainingMetrics.addAllreduceBytes}.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ProgressReport } from '../contract.js';
import { STEP_PHASES, phaseSeconds, type StepTiming } from '../train/time-split.js';

/** Metric names, in one place for dashboards and tests. */
export const METRIC_NAMES = {
  steps: 'dat_train_steps_total',
  imagesPerSecond: 'dat_train_images_per_second',
  loss: 'dat_train_loss',
  cleanAccuracy: 'dat_eval_clean_accuracy',
  robustAccuracy: 'dat_eval_robust_accuracy',
  epoch: 'dat_train_epoch',
  stepDuration: 'dat_train_step_duration_seconds',
  stepPhaseDuration: 'dat_train_step_phase_duration_seconds',
  allreduceBytes: 'dat_allreduce_bytes_sent_total',
} as const;

/** Step-duration buckets: a tiny MLP step on wasm takes ~10 ms, a ResNet PGD step on CPU tens of seconds. */
const STEP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** A step's parts reach down to a millisecond (an MLP's update, a one-process all-reduce). */
const PHASE_BUCKETS = [0.001, 0.0025, 0.005, ...STEP_BUCKETS];

/** Handles onto the registered metrics. */
export interface TrainingMetrics {
  /**
   * Updates the gauges from a progress report and counts new steps since the
   * last one. Durations are not read from it: {@link observeStep} records them.
   */
  observeProgress(p: ProgressReport): void;
  /** Records one step's wall time and, when given, its split into attack, gradient, all-reduce and update. */
  observeStep(seconds: number, timing?: StepTiming): void;
  /** Adds bytes this rank sent on the ring. */
  addAllreduceBytes(bytes: number): void;
}

/** Registers the worker's metrics on `registry`. Call once per registry. */
export function createTrainingMetrics(registry: Registry): TrainingMetrics {
  const registers = [registry];
  const steps = new Counter({ name: METRIC_NAMES.steps, help: 'Optimizer steps taken', registers });
  const ips = new Gauge({ name: METRIC_NAMES.imagesPerSecond, help: 'Training images per second over all ranks (current epoch)', registers });
  const loss = new Gauge({ name: METRIC_NAMES.loss, help: 'Training loss of the last step', registers });
  const clean = new Gauge({ name: METRIC_NAMES.cleanAccuracy, help: 'Held-out clean accuracy (fraction) at the last evaluation', registers });
  const robust = new Gauge({ name: METRIC_NAMES.robustAccuracy, help: 'Held-out PGD robust accuracy (fraction) at the last evaluation', registers });
  const epoch = new Gauge({ name: METRIC_NAMES.epoch, help: 'Current epoch (1-based)', registers });
  const stepDuration = new Histogram({ name: METRIC_NAMES.stepDuration, help: 'Wall time of one training step', buckets: STEP_BUCKETS, registers });
  const phaseDuration = new Histogram({
    name: METRIC_NAMES.stepPhaseDuration,
    help: 'Wall time of one part of a training step (attack, gradient, allreduce, update)',
    labelNames: ['phase'],
    buckets: PHASE_BUCKETS,
    registers,
  });
  const bytes = new Counter({ name: METRIC_NAMES.allreduceBytes, help: 'Bytes this rank sent during gradient all-reduce', registers });
  let lastStep = 0;
  return {
    observeProgress: (p) => {
      if (p.step > lastStep) {
        steps.inc(p.step - lastStep);
        lastStep = p.step;
      }
      epoch.set(p.epoch);
      if (p.imagesPerSecond !== undefined) ips.set(p.imagesPerSecond);
      if (p.loss !== undefined) loss.set(p.loss);
      if (p.cleanAccuracy !== undefined) clean.set(p.cleanAccuracy);
      if (p.robustAccuracy !== undefined) robust.set(p.robustAccuracy);
    },
    observeStep: (s, timing) => {
      stepDuration.observe(s);
      if (timing !== undefined) for (const phase of STEP_PHASES) phaseDuration.observe({ phase }, phaseSeconds(timing, phase));
    },
    addAllreduceBytes: (b) => bytes.inc(b),
  };
}
