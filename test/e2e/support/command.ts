/**
 * Running the real user-facing CLIs (kubectl, helm, docker) from the e2e
 * suite: one spawn helper with a deadline, captured output and an error that
 * carries the command line and stderr, so a failing step says what it ran.
 */
import { spawn } from 'node:child_process';
import { DatError } from '../../../common/errors.js';

/** Default deadline of one CLI call; long waits poll instead of blocking in one call. */
const DEFAULT_TIMEOUT_MS = 120_000;

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Extra environment on top of the test process's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to stdin, then stdin is closed. */
  readonly input?: string;
  /** Kill the command after this long. @default 120000 */
  readonly timeoutMs?: number;
  /** Working directory. @default the test process's */
  readonly cwd?: string;
}

/** What a finished command printed and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command exited non-zero (or timed out); `result` keeps its output for assertions. */
export class CommandError extends DatError {
  readonly result: CommandResult;
  constructor(commandLine: string, result: CommandResult) {
    super(`command failed (exit ${result.code}): ${commandLine}\n${result.stderr.trim() || result.stdout.trim()}`, { retryable: false });
    this.result = result;
  }
}

/** Runs `bin args...` to completion; never throws on a non-zero exit (see {@link runChecked}). */
export function runCommand(bin: string, args: readonly string[], opts: RunCommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new DatError(`cannot run ${bin}: ${e.message}`, { retryable: false, cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (signal === null ? '' : `\n(killed by ${signal})`);
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    // A command that exits without reading its stdin (a fast `kubectl get`) closes the pipe first: the
    // EPIPE is not the command's result (its exit code is), and unhandled it would fail the caller's test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and throws a {@link CommandError} unless it exits 0. */
export async function runChecked(bin: string, args: readonly string[], opts: RunCommandOptions = {}): Promise<CommandResult> {
  const result = await runCommand(bin, args, opts);
  if (result.code !== 0) throw new CommandError([bin, ...args].join(' '), result);
  return result;
}
