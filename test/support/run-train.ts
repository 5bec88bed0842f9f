/**
 * Runs `dat train` as a child process for the kill-and-resume tests: output/
 * and ckpt/ under one directory, progress reports collected from stdout, and
 * an optional SIGKILL at the first report where `killWhen` holds. The process
 * leads its own group and the kill takes the whole group (a local ring's
 * workers too), as a crashed pod would go.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { entryCommand, REPO_ROOT } from './paths.js';
import type { ProgressReport } from '../../common/contract.js';
import { parseProgressLine } from '../../worker/cli/progress-display.js';

export interface RunOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly reports: ProgressReport[];
}

export function runTrain(dir: string, args: readonly string[], killWhen?: (p: ProgressReport) => boolean): Promise<RunOutcome> {
  const [cmd, ...pre] = entryCommand('worker/main');
  const argv = [...pre, ...args, '--output', join(dir, 'output'), '--checkpoint-dir', join(dir, 'ckpt')];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    let pending = '';
    const reports: ProgressReport[] = [];
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const p = parseProgressLine(line);
        // Log lines routed through the display (`{ log }`) are not progress.
        if (p === undefined || 'log' in p) continue;
        reports.push(p);
        if (killWhen?.(p) === true && child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, reports }));
  });
}
