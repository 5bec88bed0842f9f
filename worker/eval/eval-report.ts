/** eval.json and the table `dat eval` prints, built from merged shard outcomes (pure). */
import { formatTable } from '../cli/final-table.js';
import type { EvalAttackName } from './attacks/types.js';
import type { EvalOptions } from './eval-options.js';
import type { ShardOutcome } from './evaluate-shard.js';

/** The contents of eval.json. Deterministic: no timings, so one seed gives one file. */
export interface EvalReport {
  readonly model: string;
  readonly dataset: string;
  readonly norm: 'linf';
  readonly eps: number;
  readonly seed: number;
  readonly attacks: readonly EvalAttackName[];
  readonly nExamples: number;
  readonly cleanAccuracy: number;
  /** Cumulative robust accuracy after each attack, in run order (AutoAttack's printout). */
  readonly perAttack: readonly { readonly attack: EvalAttackName; readonly robustAccuracy: number; readonly robustCount: number }[];
  /** Robust accuracy under the whole ensemble (per-example worst case). */
  readonly robustAccuracy: number;
  /** Per example (test-split order), '1' where still correct: clean, then after the whole ensemble. */
  readonly examples: { readonly clean: string; readonly robust: string };
}

/** Merges shard outcomes into one, in example order. */
export function mergeShards(shards: readonly ShardOutcome[]): ShardOutcome {
  const rows = shards.flatMap((s) => s.indices.map((idx, j) => ({ idx, clean: s.clean[j]!, robust: s.robustAfter.map((r) => r[j]!) })));
  rows.sort((a, b) => a.idx - b.idx);
  const attacks = shards[0]?.robustAfter.length ?? 0;
  return {
    indices: rows.map((r) => r.idx),
    clean: rows.map((r) => r.clean),
    robustAfter: Array.from({ length: attacks }, (_, a) => rows.map((r) => r.robust[a]!)),
    seconds: Array.from({ length: attacks }, (_, a) => Math.max(...shards.map((s) => s.seconds[a]!))),
  };
}

const sum = (a: readonly number[]): number => a.reduce((s, v) => s + v, 0);

/** eval.json for `o` and the merged outcome. */
export function buildEvalReport(o: EvalOptions, datasetName: string, m: ShardOutcome): EvalReport {
  const n = Math.max(m.indices.length, 1);
  const perAttack = o.attacks.map((attack, a) => ({ attack, robustCount: sum(m.robustAfter[a]!), robustAccuracy: sum(m.robustAfter[a]!) / n }));
  const last = m.robustAfter[m.robustAfter.length - 1] ?? m.clean;
  return {
    model: o.model,
    dataset: datasetName,
    norm: o.norm,
    eps: o.eps,
    seed: o.seed,
    attacks: o.attacks,
    nExamples: m.indices.length,
    cleanAccuracy: sum(m.clean) / n,
    perAttack,
    robustAccuracy: sum(last) / n,
    examples: { clean: m.clean.join(''), robust: last.join('') },
  };
}

const pct = (f: number): string => `${(100 * f).toFixed(2)}%`;

/** The table: clean, then cumulative robust accuracy after each attack, then the ensemble. */
export function formatEvalTable(r: EvalReport, seconds?: readonly number[]): string {
  const rows: string[][] = [['attack', 'robust accuracy', 'robust', ...(seconds !== undefined ? ['time'] : [])]];
  const n = r.nExamples;
  rows.push(['clean', pct(r.cleanAccuracy), `${Math.round(r.cleanAccuracy * n)}/${n}`, ...(seconds !== undefined ? [''] : [])]);
  r.perAttack.forEach((p, a) => rows.push([`+ ${p.attack}`, pct(p.robustAccuracy), `${p.robustCount}/${n}`, ...(seconds !== undefined ? [`${seconds[a]!.toFixed(1)}s`] : [])]));
  const name = r.attacks.join(',') === 'apgd-ce,apgd-t,fab-t,square' ? 'AutoAttack (standard)' : 'ensemble';
  rows.push([name, pct(r.robustAccuracy), `${Math.round(r.robustAccuracy * n)}/${n}`, ...(seconds !== undefined ? [`${sum(seconds).toFixed(1)}s`] : [])]);
  return `L-inf eps ${Number(r.eps.toPrecision(4))}, ${n} examples of ${r.dataset}\n` + formatTable(rows);
}
