/** The table printed at the end of `dat train`. */
import type { RunMetrics } from '../train/metrics.js';
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
  return formatTable(rows);
}

function fmtNum(x: number): string {
  // 8/255 reads better than 0.0313725...
  const k = x * 255;
  if (Math.abs(k - Math.round(k)) < 1e-6 && x < 1 && Math.round(k) !== 0 && Math.abs(x * 100 - Math.round(x * 100)) > 1e-9) return `${Math.round(k)}/255`;
  return String(Number(x.toPrecision(4)));
}
