/**
 * Signals for a worker running as PID 1 (the container's main process, as in
 * every worker pod). The kernel gives PID 1 no default action for SIGTERM or
 * SIGINT, and Node.js installs none, so without a handler a worker ignores the
 * kubelet's SIGTERM: a gang restart or `kubectl delete` would wait out the
 * whole grace period while the old ranks keep training (and checkpointing).
 * This restores the usual meaning, termination, with the shell's exit status.
 */
import { constants } from 'node:os';

/** The signals a pod's main process is asked to stop with. */
const TERMINATING_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** What the handler needs from the process (injected in tests). */
export interface SignalTarget {
  readonly pid: number;
  on(signal: (typeof TERMINATING_SIGNALS)[number], listener: () => void): unknown;
  exit(code: number): never;
}

/**
 * Installs exit-on-signal handlers when `target` is PID 1; elsewhere the
 * default actions (or a launcher's own handlers) already apply. Returns
 * whether it installed them.
 */
export function installPid1SignalHandlers(target: SignalTarget, stderr: { write(s: string): unknown }): boolean {
  if (target.pid !== 1) return false;
  for (const signal of TERMINATING_SIGNALS) {
    target.on(signal, () => {
      const code = 128 + constants.signals[signal];
      stderr.write(`dat: received ${signal}: stopping (exit ${code})\n`);
      target.exit(code);
    });
  }
  return true;
}
