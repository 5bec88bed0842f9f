/**
 * Prometheus metrics of a training worker (prom-client). The trainer feeds
 * {@link TrainingMetrics.observeProgress} (gauges, step counter) and
 * {@link TrainingMetrics.observeStep} (durations, once per step); the ring
 * code feeds {@link TrainingMetrics.addAllreduceBytes} and, through an
 * ObservedCollective (worker/comm/observed-collective.ts),
 * {@link TrainingMetrics.collective}: call latency, wire bytes, codec time.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ProgressReport } from '../../common/contract.js';
import type { CollectiveObserver } from '../comm/observed-collective.js';
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
  collectiveDuration: 'dat_collective_duration_seconds',
  collectiveWireBytes: 'dat_collective_wire_bytes_total',
  codecDuration: 'dat_collective_codec_duration_seconds',
} as const;

/** Step-duration buckets: a tiny MLP step on wasm takes ~10 ms, a ResNet PGD step on CPU tens of seconds. */
const STEP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** A step's parts reach down to a millisecond (an MLP's update, a one-process all-reduce). */
const PHASE_BUCKETS = [0.001, 0.0025, 0.005, ...STEP_BUCKETS];

/**
 * Collective-call latency: a barrier on loopback takes ~100 µs, a 256 MiB all-reduce
 * over a 1 Gbit/s link seconds; the step buckets cover the top.
 */
const COLLECTIVE_BUCKETS = [0.0001, 0.00025, 0.0005, ...PHASE_BUCKETS];

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
  /** Feeds the collective's latency histogram, wire byte counters and codec histogram. */
  readonly collective: CollectiveObserver;
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
  const callDuration = new Histogram({
    name: METRIC_NAMES.collectiveDuration,
    help: 'Wall time of one collective call (allreduce, allgather, broadcast, barrier, alltoall), by outcome',
    labelNames: ['op', 'outcome'],
    buckets: COLLECTIVE_BUCKETS,
    registers,
  });
  const wireBytes = new Counter({ name: METRIC_NAMES.collectiveWireBytes, help: 'Encoded ring messages this rank sent or received, in bytes', labelNames: ['direction'], registers });
  const codecDuration = new Histogram({
    name: METRIC_NAMES.codecDuration,
    help: 'Gradient compression time per reducer call outside collective calls (encode: before and between calls; decode: after the last)',
    labelNames: ['op'],
    buckets: COLLECTIVE_BUCKETS,
    registers,
  });
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
    collective: {
      observeCall: (op, seconds, ok) => callDuration.observe({ op, outcome: ok ? 'ok' : 'failed' }, seconds),
      observeCodec: (phase, seconds) => codecDuration.observe({ op: phase }, seconds),
      addWireBytes: (direction, n) => wireBytes.inc({ direction }, n),
    },
  };
}
