/**
 * The training progress display. Modes:
 *
 * - `tty`: one line redrawn in place (epoch, step/total, loss, images/s, ETA).
 * - `plain`: the same line printed every few seconds and on phase changes (logs, CI).
 * - `json`: every update as one JSON object per line (the local launcher runs
 *   its children this way and merges them with {@link parseProgressLine}).
 * - `none`: nothing.
 *
 * Formatting is pure ({@link formatProgressLine}); the display only decides
 * when to write.
 */
import type { ProgressMode, ProgressReport } from '../../common/contract.js';

/** What the display shows: a report plus optional ring size and a free-form suffix. */
export type DisplayProgress = ProgressReport & {
  readonly workers?: number;
  readonly extra?: string;
  /** Replaces the phase words (`dat eval` shows the attack it is running). */
  readonly label?: string;
};

/** A progress display bound to an output stream. */
export interface ProgressDisplay {
  update(p: DisplayProgress): void;
  /** Prints a line of its own (above the progress line in tty mode). */
  log(line: string): void;
  /** Ends the display (final newline in tty mode). */
  finish(): void;
}

/** The output the display writes to (a subset of a tty WriteStream). */
export interface DisplayOutput {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link createProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Clock in ms (tests). @default Date.now */
  readonly now?: () => number;
  /** Minimum ms between two plain-mode lines. @default 5000 */
  readonly plainIntervalMs?: number;
  /** Minimum ms between two tty redraws. @default 100 */
  readonly ttyIntervalMs?: number;
}

/** A log line in json mode (so the merged stream stays one JSON object per line). */
export interface JsonLogLine {
  readonly log: string;
}

/** `3725` s → `1h02m`; `185` → `3m05s`; `9` → `9s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

const pct = (f: number): string => `${(100 * f).toFixed(1)}%`;

/** One human-readable progress line. */
export function formatProgressLine(p: DisplayProgress, etaSeconds?: number): string {
  const parts: string[] = [];
  if (p.label !== undefined) parts.push(p.label);
  else if (p.phase === 'starting') parts.push('starting');
  else if (p.phase === 'evaluating') parts.push(`evaluating after epoch ${p.epoch}/${p.totalEpochs}`);
  else if (p.phase === 'done') parts.push(`done: ${p.epoch} epochs`);
  else if (p.phase === 'failed') parts.push('failed');
  else parts.push(`epoch ${p.epoch}/${p.totalEpochs}`);
  if (p.totalSteps > 0) parts.push(`step ${p.step}/${p.totalSteps}`);
  if (p.loss !== undefined) parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.imagesPerSecond !== undefined) parts.push(`${Math.round(p.imagesPerSecond)} img/s`);
  if (p.workers !== undefined) parts.push(`${p.workers} workers`);
  if (p.cleanAccuracy !== undefined) parts.push(`clean ${pct(p.cleanAccuracy)}`);
  if (p.robustAccuracy !== undefined) parts.push(`robust ${pct(p.robustAccuracy)}`);
  if (etaSeconds !== undefined && p.phase === 'training') parts.push(`ETA ${formatDuration(etaSeconds)}`);
  if (p.extra !== undefined && p.extra !== '') parts.push(p.extra);
  return parts.join('  ');
}

/** Parses one line of a json-mode stream: a progress report, a log line, or undefined for anything else. */
export function parseProgressLine(line: string): DisplayProgress | JsonLogLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.log === 'string') return { log: o.log };
  if (typeof o.phase === 'string' && typeof o.step === 'number' && typeof o.totalSteps === 'number') return o as unknown as DisplayProgress;
  return undefined;
}

/** Estimates the remaining time from the step rate since the first training update. */
class EtaClock {
  private start?: { t: number; step: number };
  constructor(private readonly now: () => number) {}

  eta(p: ProgressReport): number | undefined {
    if (p.phase !== 'training') return undefined;
    const t = this.now();
    if (this.start === undefined || p.step < this.start.step) {
      this.start = { t, step: p.step };
      return undefined;
    }
    const done = p.step - this.start.step;
    if (done <= 0) return undefined;
    return ((t - this.start.t) / 1000 / done) * (p.totalSteps - p.step);
  }
}

/** True when a report should be shown: a new phase, or `intervalMs` since the last one shown. */
function throttle(intervalMs: number, now: () => number): (p: ProgressReport) => boolean {
  let lastAt = -Infinity;
  let lastPhase: string | undefined;
  return (p) => {
    const t = now();
    if (p.phase === lastPhase && t - lastAt < intervalMs) return false;
    lastAt = t;
    lastPhase = p.phase;
    return true;
  };
}

/** Resolves `auto` against the stream. */
export function resolveProgressMode(mode: ProgressMode, out: DisplayOutput): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return out.isTTY === true ? 'tty' : 'plain';
}

/** Creates the display for `mode` writing to `out`. */
export function createProgressDisplay(mode: ProgressMode, out: DisplayOutput, opts: ProgressDisplayOptions = {}): ProgressDisplay {
  const now = opts.now ?? Date.now;
  const resolved = resolveProgressMode(mode, out);
  const clock = new EtaClock(now);
  switch (resolved) {
    case 'none':
      return { update: () => {}, log: () => {}, finish: () => {} };
    case 'json':
      return {
        update: (p) => out.write(JSON.stringify(p) + '\n'),
        log: (line) => out.write(JSON.stringify({ log: line } satisfies JsonLogLine) + '\n'),
        finish: () => {},
      };
    case 'plain': {
      const due = throttle(opts.plainIntervalMs ?? 5000, now);
      return {
        update: (p) => {
          const eta = clock.eta(p);
          if (due(p)) out.write(formatProgressLine(p, eta) + '\n');
        },
        log: (line) => out.write(line + '\n'),
        finish: () => {},
      };
    }
    case 'tty': {
      const due = throttle(opts.ttyIntervalMs ?? 100, now);
      let current = '';
      const clip = (s: string): string => (out.columns !== undefined && s.length >= out.columns ? s.slice(0, out.columns - 1) : s);
      const draw = (): void => void out.write(`\r\x1b[2K${clip(current)}`);
      return {
        update: (p) => {
          const eta = clock.eta(p);
          if (!due(p)) return;
          current = formatProgressLine(p, eta);
          draw();
        },
        log: (line) => {
          out.write(`\r\x1b[2K${line}\n`);
          if (current !== '') draw();
        },
        finish: () => {
          if (current !== '') out.write('\n');
          current = '';
        },
      };
    }
  }
}
