/**
 * The gloo reference for `bench:allreduce`: torch.distributed's all_reduce
 * with the gloo backend (PyTorch's CPU collective, the one the DAT reference
 * runs on), driven by bench/gloo_allreduce.py in the PyTorch venv that
 * scripts/bench/install-torch.sh installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root, from source (bench/lib) or compiled (dist/bench/lib). */
const REPO_ROOT = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.split(/[\\/]/).includes('dist') ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
})();

/** The Python driver of the gloo column. */
export const GLOO_SCRIPT = join(REPO_ROOT, 'bench', 'gloo_allreduce.py');

/** Where gloo can run, or why it cannot. */
export type GlooAvailability = { readonly python: string; readonly torch: string } | { readonly missing: string };

/** The venv's python when it imports torch with gloo; otherwise the reason, with the fix. */
export function findGloo(): GlooAvailability {
  const venv = process.env.DAT_TORCH_VENV ?? join(homedir(), '.cache', 'dat-operator', 'venv-torch');
  const python = join(venv, 'bin', 'python');
  const fix = 'run scripts/bench/install-torch.sh';
  if (!existsSync(python)) return { missing: `no PyTorch venv at ${venv} (${fix})` };
  const probe = spawnSync(python, ['-c', 'import torch, torch.distributed as d; assert d.is_gloo_available(), "no gloo"; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim().split('\n').pop();
    return { missing: `torch with gloo is not importable from ${python}: ${why} (${fix})` };
  }
  return { python, torch: probe.stdout.trim() };
}

/** Runs gloo all-reduces of `sizes` MiB on `n` processes; returns rank 0's `allreduce` events. */
export async function runGlooGroup(python: string, n: number, sizes: readonly number[], iters: readonly number[]): Promise<Array<Record<string, unknown>>> {
  const child = spawn(python, [GLOO_SCRIPT, '--n', String(n), '--sizes', sizes.join(','), '--iters', iters.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (l) => events.push(JSON.parse(l) as Record<string, unknown>));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  if (code !== 0) throw new Error(`gloo ring of ${n}: ${GLOO_SCRIPT} exited with ${code}`);
  return events;
}
