/**
 * Checks PromQL with the real promtool: the expressions become recording rules
 * in a temporary rules file and `promtool check rules` parses every one (the
 * usual way to run promtool's PromQL parser without a server).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { prometheusTool } from './prometheus-tools.js';

const run = promisify(execFile);

/** One expression to check and a name for it in messages. */
export interface PromQLExpression {
  readonly where: string;
  readonly expr: string;
}

/** promtool's verdict. */
export interface PromtoolResult {
  readonly ok: boolean;
  /** promtool's stdout and stderr. */
  readonly output: string;
  /** Rules promtool reported found (`SUCCESS: N rules found`), when it succeeded. */
  readonly rulesFound?: number;
  /** `where` of the expressions named in its errors. */
  readonly failed: string[];
}

/** Recording-rule name of the i-th expression (rule names must be valid metric names). */
function ruleName(i: number): string {
  return `dashboard:expr_${i}`;
}

/** Runs `promtool check rules` on the expressions; never throws for a bad expression. */
export async function checkPromQL(exprs: readonly PromQLExpression[]): Promise<PromtoolResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dat-promtool-'));
  try {
    const file = join(dir, 'rules.yaml');
    const rules = exprs.map((e, i) => ({ record: ruleName(i), expr: e.expr }));
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { ok, output } = await runPromtool(['check', 'rules', file]);
    const found = /SUCCESS: (\d+) rules found/.exec(output);
    const failed = exprs.filter((_, i) => output.includes(`"${ruleName(i)}"`)).map((e) => e.where);
    return { ok, output, failed, ...(found !== null ? { rulesFound: Number(found[1]) } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `promtool check config` on a Prometheus configuration file. */
export function checkPrometheusConfig(file: string): Promise<{ ok: boolean; output: string }> {
  return runPromtool(['check', 'config', file]);
}

/** Runs promtool; a non-zero exit is a verdict (ok false), a failure to start it throws. */
async function runPromtool(args: readonly string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run(prometheusTool('promtool'), args);
    return { ok: true, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: unknown };
    if (typeof e.code !== 'number') throw err;
    return { ok: false, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}
