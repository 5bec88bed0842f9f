/**
 * Where the e2e suite finds `kubectl` and `helm`: the project's toolchain
 * cache (`scripts/install-toolchain.sh`, which honours `DAT_TOOLCHAIN_DIR`),
 * else `$PATH` (the kind provider on a developer machine).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from '../../support/paths.js';

/** Environment variable overriding the toolchain root, as in install-toolchain.sh. */
export const TOOLCHAIN_DIR_ENV = 'DAT_TOOLCHAIN_DIR';

/** The toolchain's pinned version string (also its cache directory name). */
export function toolchainVersion(): string {
  return readFileSync(join(REPO_ROOT, 'scripts', 'toolchain', 'VERSION'), 'utf8').trim();
}

/** `${DAT_TOOLCHAIN_DIR:-~/.cache/dat-operator/toolchain}/<version>/bin`, where install-toolchain.sh puts the binaries. */
export function toolchainBinDir(): string {
  const fromEnv = process.env[TOOLCHAIN_DIR_ENV];
  const root = fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'dat-operator', 'toolchain');
  return join(root, toolchainVersion(), 'bin');
}

/** Absolute path of a tool: toolchain cache first, then `$PATH`; the bare name if neither has it. */
export function findTool(name: string): string {
  const own = join(toolchainBinDir(), name);
  if (existsSync(own)) return own;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}
