/**
 * `<output>/curves.svg`: a run's training curves as one picture, drawn with
 * vega-lite (compiled to a vega spec, rendered headless to SVG):
 *
 * 1. clean and robust held-out accuracy against epoch;
 * 2. training loss, per step and as the epoch mean;
 * 3. training images/s per epoch (all ranks);
 * 4. with more than one worker, bytes each rank sent per step.
 *
 * The x axis of the epoch panels counts epochs completed: epoch k's
 * evaluation and throughput sit at x = k (both are measured at its end), step
 * g's loss at g / steps-per-epoch, and epoch k's mean loss at k - 1/2.
 * Building the spec is pure ({@link buildCurvesSpec}); rendering and writing
 * are separate.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { wrapError } from '../../common/errors.js';
import type { EpochRecord } from './metrics.js';

/** Size of one panel, in pixels (before axes and titles). */
const PANEL = { width: 320, height: 180 } as const;

/** Loss of one optimizer step. */
export interface StepLoss {
  /** 1-based global step. */
  readonly step: number;
  readonly loss: number;
}

/** Bytes this rank sent during one step's all-reduce. */
export interface StepBytes {
  readonly step: number;
  readonly bytes: number;
}

/** What {@link buildCurvesSpec} draws. */
export interface CurvesInput {
  /** Headline, e.g. the model, dataset and attack. */
  readonly title: string;
  /**
   * Lines under the headline. Keep each under ~70 characters: without a
   * canvas, vega estimates text widths generously and widens the picture to fit.
   */
  readonly subtitle?: readonly string[];
  readonly history: readonly EpochRecord[];
  /** Legend label of the robust accuracy, naming the attack (e.g. `robust (PGD-20)`). */
  readonly robustLabel: string;
  readonly stepsPerEpoch: number;
  /** Per-step losses (may cover only the steps since a resume). */
  readonly stepLosses: readonly StepLoss[];
  /** Per-step bytes; drawn when `workers` > 1. */
  readonly stepBytes: readonly StepBytes[];
  readonly workers: number;
}

/** One sub-chart of the concatenation (derived from the stable `TopLevelSpec` export). */
type Panel = Extract<TopLevelSpec, { concat: unknown }>['concat'][number];

/** The shared x axis of the epoch panels: 0 to the last epoch, whole-epoch ticks. */
const epochX = (input: CurvesInput) => ({
  field: 'epoch',
  type: 'quantitative' as const,
  title: 'epochs completed',
  scale: { domain: [0, Math.max(1, ...input.history.map((r) => r.epoch))] },
  axis: { tickMinStep: 1, format: 'd' },
});
const seriesColor = (labels: readonly string[]) =>
  ({
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: [...labels] },
    // Above the plot, not inside it: an inner legend hides the lines it names.
    legend: { orient: 'top', direction: 'horizontal', symbolType: 'stroke', symbolStrokeWidth: 2.5, labelFontSize: 11 },
  }) as const;

function accuracyPanel(input: CurvesInput): Panel {
  const values = input.history.flatMap((r) =>
    r.cleanAccuracy === undefined || r.robustAccuracy === undefined
      ? []
      : [
          { epoch: r.epoch, series: 'clean', accuracy: r.cleanAccuracy },
          { epoch: r.epoch, series: input.robustLabel, accuracy: r.robustAccuracy },
        ],
  );
  return {
    title: 'Held-out accuracy',
    ...PANEL,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: epochX(input),
      y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      color: seriesColor(['clean', input.robustLabel]),
    },
  };
}

function lossPanel(input: CurvesInput): Panel {
  const perStep = input.stepLosses.map((s) => ({ epoch: s.step / input.stepsPerEpoch, series: 'per step', loss: s.loss }));
  // An epoch's mean sits mid-epoch, over the steps it averages.
  const mean = input.history.map((r) => ({ epoch: r.epoch - 0.5, series: 'epoch mean', loss: r.loss }));
  return {
    title: 'Training loss',
    ...PANEL,
    data: { values: [...perStep, ...mean] },
    encoding: {
      x: epochX(input),
      y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
      color: seriesColor(['per step', 'epoch mean']),
    },
    layer: [
      { transform: [{ filter: "datum.series === 'per step'" }], mark: { type: 'line', strokeWidth: 1 } },
      { transform: [{ filter: "datum.series === 'epoch mean'" }], mark: { type: 'line', point: true } },
    ],
  };
}

function throughputPanel(input: CurvesInput): Panel {
  return {
    title: 'Training throughput (all ranks)',
    ...PANEL,
    data: { values: input.history.map((r) => ({ epoch: r.epoch, imagesPerSecond: r.imagesPerSecond })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: epochX(input),
      y: { field: 'imagesPerSecond', type: 'quantitative', title: 'images/s', scale: { zero: true } },
    },
  };
}

function bytesPanel(input: CurvesInput): Panel {
  return {
    title: 'Bytes sent per step (each rank)',
    ...PANEL,
    data: { values: input.stepBytes.map((s) => ({ step: s.step, kib: s.bytes / 1024 })) },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'optimizer step' },
      y: { field: 'kib', type: 'quantitative', title: 'KiB', scale: { zero: true } },
    },
  };
}

/** The vega-lite spec of the curves (pure). */
export function buildCurvesSpec(input: CurvesInput): TopLevelSpec {
  const panels = [accuracyPanel(input), lossPanel(input), throughputPanel(input)];
  if (input.workers > 1) panels.push(bytesPanel(input));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: input.title, ...(input.subtitle !== undefined ? { subtitle: [...input.subtitle] } : {}), anchor: 'start', fontSize: 15, subtitleFontSize: 12, offset: 14 },
    background: 'white',
    padding: 12,
    columns: 2,
    concat: panels,
    // Each panel's series are its own (accuracy vs loss): shared colour scales would merge their legends.
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', title: { fontSize: 13 }, view: { stroke: '#ddd' } },
  };
}

/** Renders `spec` to an SVG document, headless (no canvas, no browser). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders the curves and writes them to `path` atomically. */
export async function writeCurves(path: string, input: CurvesInput): Promise<string> {
  try {
    const svg = await renderSvg(buildCurvesSpec(input));
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, svg);
    await rename(tmp, path);
  } catch (err) {
    throw wrapError(`failed to write ${path}`, err);
  }
  return path;
}
