import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProcessStopSignals, type SignalTarget } from '../../../worker/cli/stop-signals.js';

/** A fake process that records its handlers and exits. */
function fakeProcess(pid: number): SignalTarget & { handlers: Map<string, () => void>; exits: number[]; send(signal: string): void } {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  return {
    pid,
    handlers,
    exits,
    on(signal, listener) {
      handlers.set(signal, listener);
      return this;
    },
    off(signal, listener) {
      if (handlers.get(signal) === listener) handlers.delete(signal);
      return this;
    },
    exit(code: number): never {
      exits.push(code);
      return undefined as never;
    },
    send(signal: string) {
      handlers.get(signal)?.();
    },
  };
}

/** A ProcessStopSignals over a fake process, with its stderr lines. */
function signalsFor(pid: number): { proc: ReturnType<typeof fakeProcess>; signals: ProcessStopSignals; lines: string[] } {
  const proc = fakeProcess(pid);
  const lines: string[] = [];
  return { proc, signals: new ProcessStopSignals(proc, { write: (s: string) => lines.push(s) }), lines };
}

describe('ProcessStopSignals', () => {
  const cases = [
    { signal: 'SIGTERM', code: 143 },
    { signal: 'SIGINT', code: 130 },
  ] as const;
  for (const c of cases) {
    test(`as PID 1 and disarmed, ${c.signal} exits with ${c.code} and says why`, () => {
      const { proc, signals, lines } = signalsFor(1);
      assert.equal(signals.listening, true);
      proc.send(c.signal);
      assert.deepEqual(proc.exits, [c.code]);
      assert.match(lines.join(''), new RegExp(`received ${c.signal}: stopping \\(exit ${c.code}\\)`));
    });

    test(`armed, the first ${c.signal} asks for a stop and the second exits with ${c.code}`, () => {
      const { proc, signals, lines } = signalsFor(1);
      signals.arm();
      proc.send(c.signal);
      assert.equal(signals.requested(), c.signal);
      assert.deepEqual(proc.exits, [], 'the first signal does not end the process');
      assert.match(lines.join(''), /stopping after the current step, with a checkpoint/);
      proc.send(c.signal);
      assert.deepEqual(proc.exits, [c.code]);
    });
  }

  test('any other PID keeps the default actions until armed, and gets them back when disarmed', () => {
    const { proc, signals } = signalsFor(4242);
    assert.equal(proc.handlers.size, 0);
    signals.arm();
    assert.deepEqual([...proc.handlers.keys()].sort(), ['SIGINT', 'SIGTERM']);
    signals.disarm();
    assert.equal(proc.handlers.size, 0);
    assert.equal(signals.listening, false);
  });

  test('PID 1 keeps its handlers when disarmed: a signal then exits at once', () => {
    const { proc, signals } = signalsFor(1);
    signals.arm();
    signals.disarm();
    proc.send('SIGTERM');
    assert.equal(signals.requested(), undefined);
    assert.deepEqual(proc.exits, [143]);
  });

  test('arming twice installs one handler per signal', () => {
    const { proc, signals } = signalsFor(4242);
    const added: string[] = [];
    const on = proc.on.bind(proc);
    proc.on = (signal, listener) => {
      added.push(signal);
      return on(signal, listener);
    };
    signals.arm();
    signals.arm();
    assert.deepEqual(added.sort(), ['SIGINT', 'SIGTERM']);
  });
});
