/**
 * Locating the project's entry points from tests. Tests run either compiled
 * (`dist/test/...js`, the CI path) or from source under tsx (`test/...ts`,
 * while developing); a spawned process must use the matching form.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
/** True when this file runs from `dist/` (compiled). */
export const RUNNING_COMPILED = here.split(/[\\/]/).includes('dist');

/** The repository root (contains package.json). */
export const REPO_ROOT = RUNNING_COMPILED ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');

/**
 * The command (argv prefix) that runs a source module, e.g. `entryCommand('worker/main')`
 * gives `[node, dist/worker/main.js]` or `[node, --import, tsx, worker/main.ts]`.
 */
export function entryCommand(modulePathNoExt: string): string[] {
  if (RUNNING_COMPILED) return [process.execPath, join(REPO_ROOT, 'dist', `${modulePathNoExt}.js`)];
  return [process.execPath, '--import', 'tsx', join(REPO_ROOT, `${modulePathNoExt}.ts`)];
}

/** The `dat` command as a pod runs it: bin/dat.js executed directly, so its shebang's node flags apply (needs `npm run build`). */
export function datCommand(): string[] {
  return [join(REPO_ROOT, 'bin', 'dat.js')];
}
