/**
 * SIGTERM and SIGINT for a worker process.
 *
 * - While a run is armed (training with a checkpoint directory), the first
 *   signal asks for a graceful stop (worker/train/graceful-stop.ts): the run
 *   saves a checkpoint at its next step boundary and exits. A second signal
 *   ends the process at once.
 * - Otherwise a signal ends the process. As PID 1 (the container's main
 *   process, as in every worker pod) that needs a handler: the kernel gives
 *   PID 1 no default action for SIGTERM or SIGINT and Node.js installs none, so
 *   the kubelet's SIGTERM would be ignored for the whole grace period. Any
 *   other process keeps the default actions while disarmed.
 */
import { signalExitCode, type StopSignals } from '../train/graceful-stop.js';

/** The signals a pod's main process is asked to stop with. */
const TERMINATING_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type TerminatingSignal = (typeof TERMINATING_SIGNALS)[number];

/** What the handler needs from the process (injected in tests). */
export interface SignalTarget {
  readonly pid: number;
  on(signal: TerminatingSignal, listener: () => void): unknown;
  off(signal: TerminatingSignal, listener: () => void): unknown;
  exit(code: number): never;
}

/** The process's stop signals (see the module comment). */
export class ProcessStopSignals implements StopSignals {
  private armed = false;
  private received: NodeJS.Signals | undefined;
  private readonly listeners = new Map<TerminatingSignal, () => void>();

  constructor(
    private readonly target: SignalTarget,
    private readonly stderr: { write(s: string): unknown },
  ) {
    if (target.pid === 1) this.listen();
  }

  requested(): NodeJS.Signals | undefined {
    return this.received;
  }

  arm(): void {
    this.armed = true;
    this.listen();
  }

  disarm(): void {
    this.armed = false;
    if (this.target.pid !== 1) this.unlisten();
  }

  /** Whether handlers are installed (PID 1 always; other processes while armed). */
  get listening(): boolean {
    return this.listeners.size > 0;
  }

  private onSignal(signal: TerminatingSignal): void {
    if (this.armed && this.received === undefined) {
      this.received = signal;
      this.stderr.write(`dat: received ${signal}: stopping after the current step, with a checkpoint (${signal} again stops at once)\n`);
      return;
    }
    const code = signalExitCode(signal);
    this.stderr.write(`dat: received ${signal}: stopping (exit ${code})\n`);
    this.target.exit(code);
  }

  private listen(): void {
    for (const signal of TERMINATING_SIGNALS) {
      if (this.listeners.has(signal)) continue;
      const listener = (): void => this.onSignal(signal);
      this.listeners.set(signal, listener);
      this.target.on(signal, listener);
    }
  }

  private unlisten(): void {
    for (const [signal, listener] of this.listeners) this.target.off(signal, listener);
    this.listeners.clear();
  }
}
