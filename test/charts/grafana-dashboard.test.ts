/**
 * The chart's Grafana dashboard: it has the panels issue 17 lists, queries
 * only metrics the operator and the workers export, and every PromQL
 * expression in it parses with the real promtool (scripts/prometheus/).
 * That it returns data from a real Prometheus is checked on kind (test/e2e/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createMetrics } from '../../operator/metrics.js';
import { createTrainingMetrics } from '../../worker/telemetry/training-metrics.js';
import { listDashboardQueries, listPanels, loadDashboard, substituteVariables, type GrafanaDashboard } from '../support/grafana-dashboard.js';
import { checkPromQL, checkPrometheusConfig } from '../support/promtool.js';
import { PROMETHEUS_CONFIG_EXAMPLE } from '../support/prometheus-tools.js';

/** Values promtool parses in place of Grafana's variables (any label regex and range work). */
const PARSE_VALUES = { namespace: '.*', datjob: '.*', __rate_interval: '1m' } as const;

/** Every metric name the operator and a worker expose, histogram series included. */
async function exportedMetricNames(): Promise<Set<string>> {
  const worker = new Registry();
  createTrainingMetrics(worker);
  const operator = createMetrics({ listJobs: () => [] }).registry;
  const names = new Set<string>();
  for (const m of [...(await worker.getMetricsAsJSON()), ...(await operator.getMetricsAsJSON())]) {
    names.add(m.name);
    // prom-client's MetricType enum is not importable from ESM (CommonJS module); its values are the type names.
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

function parseableQueries(d: GrafanaDashboard): { where: string; expr: string }[] {
  return listDashboardQueries(d).map((q) => ({ where: q.where, expr: substituteVariables(q.expr, PARSE_VALUES) }));
}

test('the dashboard has the panels of issue 17, each with a query', () => {
  const panels = listPanels(loadDashboard());
  const want = [
    { title: 'DATJobs by phase', metric: 'dat_operator_jobs' },
    { title: 'Gang restarts', metric: 'dat_operator_job_restarts' },
    { title: 'Reconcile duration p50 / p99', metric: 'dat_operator_reconcile_duration_seconds_bucket' },
    { title: 'Work-queue depth', metric: 'dat_operator_workqueue_depth' },
    { title: 'Images/s per DATJob', metric: 'dat_train_images_per_second' },
    { title: 'Training loss', metric: 'dat_train_loss' },
    { title: 'Clean and robust accuracy', metric: 'dat_eval_robust_accuracy' },
    { title: 'All-reduce latency p50 / p99', metric: 'dat_train_step_phase_duration_seconds_bucket' },
    { title: 'Bytes on the wire', metric: 'dat_allreduce_bytes_sent_total' },
  ];
  for (const w of want) {
    const p = panels.find((x) => x.title === w.title);
    assert.ok(p !== undefined, `panel "${w.title}" (panels: ${panels.map((x) => x.title).join(', ')})`);
    assert.ok((p.targets ?? []).some((t) => t.expr.includes(w.metric)), `panel "${w.title}" queries ${w.metric}`);
  }
  const quantiles = panels.filter((p) => p.title.includes('p50 / p99'));
  for (const p of quantiles) {
    const exprs = (p.targets ?? []).map((t) => t.expr).join('\n');
    assert.match(exprs, /histogram_quantile\(0\.5,/, `${p.title}: p50`);
    assert.match(exprs, /histogram_quantile\(0\.99,/, `${p.title}: p99`);
  }
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});

test('every metric the dashboard queries is one the operator or a worker exports', async () => {
  const exported = await exportedMetricNames();
  const queries = listDashboardQueries(loadDashboard());
  let seen = 0;
  for (const q of queries) {
    for (const name of q.expr.match(/\bdat_[a-z0-9_]+\b/g) ?? []) {
      seen++;
      assert.ok(exported.has(name), `${q.where}: ${name} is not exported (exported: ${[...exported].filter((n) => n.startsWith('dat_')).sort().join(', ')})`);
    }
  }
  assert.ok(seen >= queries.length, 'every query names a dat_ metric');
});

test('promtool parses every PromQL expression of the dashboard', async () => {
  const exprs = parseableQueries(loadDashboard());
  assert.ok(exprs.length >= 12, `found ${exprs.length} expressions`);
  const r = await checkPromQL(exprs);
  assert.ok(r.ok, `promtool check rules failed for ${r.failed.join('; ')}:\n${r.output}`);
  assert.equal(r.rulesFound, exprs.length, `promtool checked every expression:\n${r.output}`);
});

test('the promtool check fails on a broken expression and names it', async () => {
  const exprs = parseableQueries(loadDashboard());
  const cases = [
    { name: 'unbalanced parenthesis', broken: (e: string) => e.replace(/\)$/, '') },
    { name: 'grouping without a label list', broken: (e: string) => e.replace(/by \(([^)]*)\)/, 'by $1') },
    { name: 'range over an instant function', broken: (e: string) => `${e}[5m]` },
  ];
  const target = exprs.findIndex((e) => e.where.startsWith('All-reduce latency'));
  assert.ok(target >= 0);
  for (const c of cases) {
    const mutated = exprs.map((e, i) => (i === target ? { ...e, expr: c.broken(e.expr) } : e));
    assert.notEqual(mutated[target]!.expr, exprs[target]!.expr, `${c.name}: the mutation changed the expression`);
    const r = await checkPromQL(mutated);
    assert.equal(r.ok, false, `${c.name}: promtool accepted ${mutated[target]!.expr}`);
    assert.deepEqual(r.failed, [exprs[target]!.where], `${c.name}: ${r.output}`);
  }
});

test('substituteVariables replaces Grafana variables and refuses unknown ones', () => {
  const cases = [
    { input: 'rate(x{namespace=~"$namespace"}[$__rate_interval])', want: 'rate(x{namespace=~"ml"}[2m])' },
    { input: 'x{datjob=~"${datjob}"}', want: 'x{datjob=~"j"}' },
  ];
  const values = { namespace: 'ml', datjob: 'j', __rate_interval: '2m' };
  for (const c of cases) assert.equal(substituteVariables(c.input, values), c.want);
  assert.throws(() => substituteVariables('x{pod="$pod"}', values), /no value for Grafana variable \$pod/);
});

test('examples/prometheus/prometheus.yml (the scrape configuration the e2e suite runs) passes promtool check config', async () => {
  const r = await checkPrometheusConfig(PROMETHEUS_CONFIG_EXAMPLE);
  assert.ok(r.ok, r.output);
  assert.match(r.output, /is valid prometheus config file syntax/);
});
