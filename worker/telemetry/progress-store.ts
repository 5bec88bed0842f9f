/**
 * The latest progress of this worker, as served at PROGRESS_PATH: the
 * trainer's onProgress writes it, the telemetry server's getProgress reads it.
 */
import type { ProgressReport } from '../../common/contract.js';

/** Holder of the latest {@link ProgressReport}. */
export interface ProgressStore {
  update(p: ProgressReport): void;
  get(): ProgressReport;
}

/** Keeps only the ProgressReport fields (the trainer adds rank, batch and timing fields). */
export function toProgressReport(p: ProgressReport): ProgressReport {
  const { phase, epoch, totalEpochs, step, totalSteps, loss, cleanAccuracy, robustAccuracy, imagesPerSecond, lastHeartbeat, finalEvaluation } = p;
  return {
    phase,
    epoch,
    totalEpochs,
    step,
    totalSteps,
    ...(loss !== undefined ? { loss } : {}),
    ...(cleanAccuracy !== undefined ? { cleanAccuracy } : {}),
    ...(robustAccuracy !== undefined ? { robustAccuracy } : {}),
    ...(imagesPerSecond !== undefined ? { imagesPerSecond } : {}),
    lastHeartbeat,
    ...(finalEvaluation !== undefined ? { finalEvaluation } : {}),
  };
}

/**
 * A store starting in phase `starting`. Accuracies are sticky: a training
 * step's report without them keeps the last evaluation's values.
 */
export function createProgressStore(now: () => Date = () => new Date()): ProgressStore {
  let cur: ProgressReport = { phase: 'starting', epoch: 0, totalEpochs: 0, step: 0, totalSteps: 0, lastHeartbeat: now().toISOString() };
  return {
    update: (p) => {
      const next = toProgressReport(p);
      cur = {
        ...next,
        ...(next.cleanAccuracy === undefined && cur.cleanAccuracy !== undefined ? { cleanAccuracy: cur.cleanAccuracy } : {}),
        ...(next.robustAccuracy === undefined && cur.robustAccuracy !== undefined ? { robustAccuracy: cur.robustAccuracy } : {}),
      };
    },
    get: () => cur,
  };
}
