/**
 * Where scripts/prometheus/install-prometheus.sh puts promtool and prometheus:
 * `${DAT_CACHE:-~/.cache/dat-operator}/prometheus/<PROMETHEUS_TOOLS_REV>/bin`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** scripts/prometheus/versions.env as a map (KEY=value lines). */
export function readPrometheusVersions(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'scripts', 'prometheus', 'versions.env'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m !== null) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The cache folder of the pinned build. */
export function prometheusBinDir(): string {
  const cache = process.env.DAT_CACHE !== undefined && process.env.DAT_CACHE !== '' ? process.env.DAT_CACHE : join(homedir(), '.cache', 'dat-operator');
  return join(cache, 'prometheus', readPrometheusVersions().PROMETHEUS_TOOLS_REV ?? '', 'bin');
}

/** Path of a built binary; throws saying how to build it when it is missing. */
export function prometheusTool(name: 'promtool' | 'prometheus'): string {
  const bin = join(prometheusBinDir(), name);
  if (!existsSync(bin)) throw new Error(`${name} not found at ${bin}; run scripts/prometheus/install-prometheus.sh ${name}`);
  return bin;
}

/** The image scripts/images/build-images.sh builds from the server and cluster.sh loads into kind. */
export function prometheusImage(): string {
  return `dat-operator.local/prometheus:${readPrometheusVersions().PROMETHEUS_VERSION ?? ''}`;
}

/** examples/prometheus/prometheus.yml: the scrape configuration the docs show and the kind e2e suite runs. */
export const PROMETHEUS_CONFIG_EXAMPLE = join(REPO_ROOT, 'examples', 'prometheus', 'prometheus.yml');
