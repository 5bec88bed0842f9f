/** Running a project entry point as a child process and collecting its output, for tests. */
import { spawn } from 'node:child_process';
import { entryCommand, REPO_ROOT } from './paths.js';

/** How a child process ended and what it printed. */
export interface EntryRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runEntry}. */
export interface RunEntryOptions {
  /** @default the repository root */
  readonly cwd?: string;
  /** @default this process's environment */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `modulePathNoExt` (see {@link entryCommand}) with `args` and resolves when it exits. */
export function runEntry(modulePathNoExt: string, args: readonly string[], opts: RunEntryOptions = {}): Promise<EntryRun> {
  const [cmd, ...pre] = entryCommand(modulePathNoExt);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
