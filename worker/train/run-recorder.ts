/**
 * What the chief records while it trains, for people watching the run:
 * TensorBoard event files under `<output>/tensorboard/` (scalars per step and
 * per evaluation, the configuration as text) and, at the end,
 * `<output>/curves.svg`. Only the chief records, as only it writes
 * metrics.json: every rank sees the same mean gradient and evaluation, and one
 * writer per output directory keeps the files whole.
 */
import { join } from 'node:path';
import type { TrainOptions } from '../../common/contract.js';
import { createEventFileWriter, type EventFileWriter } from '../telemetry/tensorboard/index.js';
import { getErrorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { writeCurves, type StepBytes, type StepLoss } from './curves.js';
import { CURVES_FILE, TENSORBOARD_DIR, type RunMetrics } from './metrics.js';
import type { StepTiming } from './time-split.js';

/** TensorBoard tags, in one place for tests and dashboards. */
export const TENSORBOARD_TAGS = {
  loss: 'train/loss',
  lr: 'train/learning_rate',
  eps: 'train/attack_eps',
  imagesPerSecond: 'train/images_per_second',
  allreduceMs: 'train/allreduce_ms',
  bytesSent: 'train/bytes_sent',
  attackMs: 'time/attack_ms',
  gradientMs: 'time/gradient_ms',
  updateMs: 'time/update_ms',
  cleanAccuracy: 'eval/clean_accuracy',
  robustAccuracy: 'eval/robust_accuracy',
  config: 'config',
} as const;

/** One optimizer step as recorded. */
export interface StepRecord {
  /** 1-based global step. */
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  /** Attack radius of the step (after any eps warm-up); 0 without an attack. */
  readonly eps: number;
  /** Training images/s over all ranks, so far in the epoch. */
  readonly imagesPerSecond: number;
  readonly timing: StepTiming;
  /** Bytes this rank sent during the step's all-reduce (0 in one process). */
  readonly bytesSent: number;
}

/** Records a run (see the module comment). */
export interface RunRecorder {
  recordStep(r: StepRecord): void;
  /** Held-out accuracies measured after global step `step`. */
  recordEvaluation(step: number, e: { readonly cleanAccuracy: number; readonly robustAccuracy: number }): void;
  /** Closes the event file and writes curves.svg; returns its path, or undefined when drawing failed (logged). */
  finish(metrics: RunMetrics): Promise<string | undefined>;
  /** Closes the event file (idempotent; for runs that fail). */
  close(): void;
}

/** Options of {@link createRunRecorder}. */
export interface RunRecorderOptions {
  readonly opts: TrainOptions;
  readonly stepsPerEpoch: number;
  readonly worldSize: number;
  readonly log: Logger;
  /** Wall clock for event times (tests fix it). @default Date.now */
  readonly now?: () => number;
}

/** Opens `<output>/tensorboard/` and writes the configuration text at step 0. */
export function createRunRecorder(o: RunRecorderOptions): RunRecorder {
  const writer: EventFileWriter = createEventFileWriter(join(o.opts.output, TENSORBOARD_DIR), o.now !== undefined ? { now: o.now } : {});
  writer.addText(TENSORBOARD_TAGS.config, formatConfigMarkdown(o.opts, o.worldSize), 0);
  const stepLosses: StepLoss[] = [];
  const stepBytes: StepBytes[] = [];
  return {
    recordStep: (r) => {
      writer.addScalars(r.step, stepScalars(r));
      stepLosses.push({ step: r.step, loss: r.loss });
      stepBytes.push({ step: r.step, bytes: r.bytesSent });
    },
    recordEvaluation: (step, e) =>
      writer.addScalars(step, { [TENSORBOARD_TAGS.cleanAccuracy]: e.cleanAccuracy, [TENSORBOARD_TAGS.robustAccuracy]: e.robustAccuracy }),
    finish: async (metrics) => {
      writer.close();
      const a = metrics.robustAttack;
      try {
        return await writeCurves(join(o.opts.output, CURVES_FILE), {
          title: `${o.opts.model} on ${o.opts.dataset}: ${o.opts.attack} adversarial training (eps ${Number(o.opts.eps.toPrecision(4))})`,
          subtitle: [
            `${o.worldSize} worker${o.worldSize > 1 ? 's' : ''}, global batch ${o.worldSize * o.opts.batchSize}, ${o.opts.optimizer}, compression ${o.opts.compression}, ${metrics.backend}`,
            `final accuracy: clean ${pct(metrics.cleanAccuracy)}, robust ${pct(metrics.robustAccuracy)} (${a.name.toUpperCase()}-${a.steps})`,
          ],
          history: metrics.history,
          robustLabel: `robust (${a.name.toUpperCase()}-${a.steps})`,
          stepsPerEpoch: o.stepsPerEpoch,
          stepLosses,
          stepBytes,
          workers: o.worldSize,
        });
      } catch (err) {
        // The model and metrics.json are already written: a chart that fails must not fail the run.
        o.log.warn('Failed to draw the training curves', { reason: getErrorMessage(err) });
        return undefined;
      }
    },
    close: () => writer.close(),
  };
}

/** The scalars of one step, keyed by tag. */
function stepScalars(r: StepRecord): Record<string, number> {
  return {
    [TENSORBOARD_TAGS.loss]: r.loss,
    [TENSORBOARD_TAGS.lr]: r.lr,
    [TENSORBOARD_TAGS.eps]: r.eps,
    [TENSORBOARD_TAGS.imagesPerSecond]: r.imagesPerSecond,
    [TENSORBOARD_TAGS.allreduceMs]: r.timing.allreduceSeconds * 1000,
    [TENSORBOARD_TAGS.bytesSent]: r.bytesSent,
    [TENSORBOARD_TAGS.attackMs]: r.timing.attackSeconds * 1000,
    [TENSORBOARD_TAGS.gradientMs]: r.timing.gradientSeconds * 1000,
    [TENSORBOARD_TAGS.updateMs]: r.timing.updateSeconds * 1000,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/**
 * The configuration as a Markdown table (TensorBoard's text plugin renders
 * Markdown): one row per option, in the options' order, then the ring size.
 */
export function formatConfigMarkdown(opts: TrainOptions, worldSize: number): string {
  const cell = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined').replace(/\|/g, '\\|');
  const rows = Object.entries(opts).map(([k, v]) => `| ${k} | ${cell(v)} |`);
  return ['| option | value |', '| --- | --- |', ...rows, `| (ring size) | ${worldSize} |`].join('\n');
}
