/**
 * Shared output of the benchmarks: aligned text tables on stdout and a JSON
 * result file under bench/results/, stamped with the machine and the time.
 */
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../../worker/cli/final-table.js';
import { WORKER_NODE_FLAGS } from '../../worker/util/node-flags.js';

/** bench/results/ in the repository, from source (bench/lib) or compiled (dist/bench/lib). */
export const RESULTS_DIR = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  const parts = here.split(/[\\/]/);
  const root = parts.includes('dist') ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
  return join(root, 'bench', 'results');
})();

/** What every result file records about where it ran. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** The node flags the benchmark's worker and peer processes start with (as the `dat` command's). */
  readonly workerNodeFlags: readonly string[];
}

/** The current machine. */
export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cpus: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    workerNodeFlags: WORKER_NODE_FLAGS,
  };
}

/** A table cell: numbers are shown with `digits` decimals. */
export type Cell = string | number | undefined;

/** Formats rows of cells under `header` (numbers right-aligned, fixed decimals). */
export function renderTable(header: readonly string[], rows: readonly (readonly Cell[])[], digits = 1): string {
  const fmt = (c: Cell): string => (c === undefined ? '-' : typeof c === 'number' ? (Number.isFinite(c) ? c.toFixed(digits) : String(c)) : c);
  return formatTable([header, ...rows.map((r) => r.map(fmt))]);
}

/** Prints a titled table to stdout. */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly Cell[])[], digits = 1): void {
  process.stdout.write(`\n${title}\n${renderTable(header, rows, digits)}\n`);
}

/**
 * Writes `bench/results/<name>.json` atomically with `{ benchmark, date,
 * machine, command, ...data }`; returns the path.
 */
export async function writeResult(name: string, data: Record<string, unknown>, dir: string = RESULTS_DIR): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const body = { benchmark: name, date: new Date().toISOString(), machine: machineInfo(), command: process.argv.slice(1).join(' '), ...data };
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(body, null, 2) + '\n');
  await rename(tmp, path);
  return path;
}

/**
 * Keeps a run's `<output>/curves.svg` beside the results, as
 * `curves/<bench>[-<variant>].svg` (one current file each, like the JSON), so
 * the README can show the curves of the latest full run. Returns its path.
 */
export async function saveCurves(bench: string, variant: string | undefined, runOutputDir: string, dir: string = RESULTS_DIR): Promise<string> {
  const slug = variant === undefined ? '' : `-${variant.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
  const target = join(dir, 'curves', `${bench}${slug}.svg`);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(join(runOutputDir, 'curves.svg'), `${target}.tmp`);
  await rename(`${target}.tmp`, target);
  return target;
}
