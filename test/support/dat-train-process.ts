/**
 * `dat train ...` as a child process whose output lines a test can wait for
 * (the multi-process worker and launcher tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { entryCommand } from './paths.js';

/** A running `dat train`. */
export interface DatTrainRun {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every stdout and stderr line so far, in arrival order. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  /** The first line (already seen or still to come) matching `re`; rejects after `timeoutMs` with the last lines. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

/** How to start the process: stdin, and the command (node on the entry module unless given, e.g. `datCommand()`). */
export interface DatTrainStart {
  readonly stdin?: 'ignore' | 'pipe';
  readonly command?: readonly string[];
}

/** Starts `dat train <args>` with `env` on top of the test's environment. */
export function startDatTrain(args: readonly string[], env: Record<string, string | undefined> = {}, start: DatTrainStart = {}): DatTrainRun {
  const [cmd, ...prefix] = start.command ?? entryCommand('worker/main');
  const child = spawn(cmd!, [...prefix, 'train', ...args], { env: { ...process.env, ...env }, stdio: [start.stdin ?? 'ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const onLine = (l: string): void => {
    lines.push(l);
    for (const f of listeners) f();
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const waitForLine = (re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = lines.map((l) => l.match(re)).find((x) => x !== null);
        if (!m) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, pid: child.pid!, lines, exited, waitForLine };
}

/** A tiny `dat train` run (mlp on 192 digits, cpu backend): the process tests need a run, not a model. */
export const TINY_TRAIN_ARGS: readonly string[] = ['--dataset', 'mnist', '--limit', '192', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1', '--backend', 'cpu', '--progress', 'plain'];

/** Whether a process with this pid still exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
