/** The table printed at the end of `dat train`. */
import type { RunMetrics } from '../train/metrics.js';
import type { TimeSplit } from '../train/time-split.js';
import { formatDuration } from './progress-display.js';

/** Formats `rows` (first row = header) as an aligned text table. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Clean and robust accuracy (with the attack), wall time and throughput of a finished run. */
export function formatFinalTable(m: RunMetrics): string {
  const a = m.robustAttack;
  const attack = `${a.name.toUpperCase()}-${a.steps}${a.restarts > 1 ? ` x${a.restarts} restarts` : ''}, eps ${fmtNum(a.eps)}, step ${fmtNum(a.stepSize)}`;
  const rows: string[][] = [
    ['metric', 'value'],
    ['clean accuracy', `${(100 * m.cleanAccuracy).toFixed(2)}%`],
    ['robust accuracy', `${(100 * m.robustAccuracy).toFixed(2)}%`],
    ['robust attack', attack],
    ['eval examples', String(m.evalExamples)],
    ['epochs', `${m.epochsCompleted}/${m.config.epochs}`],
    ['wall time', formatDuration(m.wallSeconds)],
    ['train images/s', m.imagesPerSecond.toFixed(0)],
    ['model', `${m.config.model} (${m.params.toLocaleString('en-US')} params)`],
    ['backend', m.backend],
  ];
  if (m.workers !== undefined && m.workers > 1) rows.push(['workers', String(m.workers)]);
  if (m.overfitGuard !== undefined) rows.push(['overfit guard', `collapsed at epoch ${m.overfitGuard.collapsedAtEpoch}; kept epoch ${m.overfitGuard.bestEpoch}`]);
  if (m.timeSplit !== undefined) rows.push(...timeSplitRows(m.timeSplit, m.wallSeconds));
  return formatTable(rows);
}

/**
 * Rows of "where the time went": each part as a share of wall time, then
 * the rest (loading data, building the model, checkpoints, saving) so the
 * shares add up to 100%.
 */
export function timeSplitRows(t: TimeSplit, wallSeconds: number): string[][] {
  const parts: [string, number][] = [
    ['attack', t.attackSeconds],
    ['gradient', t.gradientSeconds],
    ['all-reduce', t.allreduceSeconds],
    ['update', t.updateSeconds],
    ['evaluation', t.evaluationSeconds],
  ];
  const known = parts.reduce((sum, [, s]) => sum + s, 0);
  parts.push(['other', Math.max(wallSeconds - known, 0)]);
  const wall = Math.max(wallSeconds, 1e-9);
  return parts.map(([name, s]) => [`time: ${name}`, `${((100 * s) / wall).toFixed(1)}% (${formatSeconds(s)})`]);
}

/** Seconds with a precision that suits their size (a one-process all-reduce takes milliseconds). */
function formatSeconds(s: number): string {
  if (s >= 60) return formatDuration(s);
  if (s >= 10) return `${s.toFixed(0)}s`;
  if (s >= 0.1) return `${s.toFixed(1)}s`;
  return `${(s * 1000).toFixed(0)}ms`;
}

function fmtNum(x: number): string {
  // 8/255 reads better than 0.0313725...
  const k = x * 255;
  if (Math.abs(k - Math.round(k)) < 1e-6 && x < 1 && Math.round(k) !== 0 && Math.abs(x * 100 - Math.round(x * 100)) > 1e-9) return `${Math.round(k)}/255`;
  return String(Number(x.toPrecision(4)));
}
