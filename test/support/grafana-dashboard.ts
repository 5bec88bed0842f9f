/**
 * The chart's Grafana dashboard (charts/dat-operator/dashboards/dat-operator.json)
 * as tests see it: every PromQL expression in it (panel targets, and the
 * series selectors of its `label_values` variables), and Grafana's variables
 * replaced by values Prometheus can evaluate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** Path of the dashboard JSON in the chart. */
export const DASHBOARD_PATH = join(REPO_ROOT, 'charts', 'dat-operator', 'dashboards', 'dat-operator.json');

/** The parts of Grafana's dashboard model the tests read. */
export interface GrafanaPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly refId: string; readonly expr: string }[];
  readonly panels?: readonly GrafanaPanel[];
}
export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly GrafanaPanel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[] };
}

/** One PromQL expression of the dashboard and where it sits. */
export interface DashboardQuery {
  /** `panel title / refId`, or `variable name` for a variable's selector. */
  readonly where: string;
  readonly expr: string;
}

/** Parses the dashboard JSON (the file, unless `text` is given). */
export function loadDashboard(text = readFileSync(DASHBOARD_PATH, 'utf8')): GrafanaDashboard {
  return JSON.parse(text) as GrafanaDashboard;
}

/** Every panel, rows' nested panels included, rows themselves excluded. */
export function listPanels(d: GrafanaDashboard): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (ps: readonly GrafanaPanel[]): void => {
    for (const p of ps) {
      if (p.type !== 'row') out.push(p);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/** `label_values(<selector>, <label>)`: Grafana's variable query, whose selector is PromQL. */
const LABEL_VALUES = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/;

/** The panel targets' expressions. */
export function listPanelQueries(d: GrafanaDashboard): DashboardQuery[] {
  return listPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} / ${t.refId}`, expr: t.expr })));
}

/** The series selectors of the `label_values` query variables. */
export function listVariableQueries(d: GrafanaDashboard): DashboardQuery[] {
  return d.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = v.query;
      const text = typeof q === 'string' ? q : typeof q === 'object' && q !== null && 'query' in q ? String((q as { query: unknown }).query) : '';
      const m = LABEL_VALUES.exec(text.trim());
      if (m === null) throw new Error(`variable ${v.name}: query ${JSON.stringify(text)} is not label_values(<selector>, <label>)`);
      return { where: `variable ${v.name}`, expr: m[1]! };
    });
}

/** Every PromQL expression of the dashboard. */
export function listDashboardQueries(d: GrafanaDashboard): DashboardQuery[] {
  return [...listPanelQueries(d), ...listVariableQueries(d)];
}

/** Values for Grafana's variables; `__rate_interval` is Grafana's own. */
export interface VariableValues {
  readonly namespace: string;
  readonly datjob: string;
  readonly __rate_interval: string;
}

/**
 * Replaces `$name` and `${name}` with `values[name]`; throws on a variable
 * without a value, so a new variable cannot slip through unchecked.
 */
export function substituteVariables(expr: string, values: VariableValues): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (!(name in values)) throw new Error(`no value for Grafana variable $${name} in ${expr}`);
    return values[name as keyof VariableValues];
  });
}
