import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { installPid1SignalHandlers, type SignalTarget } from '../../../worker/cli/pid1-signals.js';

/** A fake process that records handlers and exits. */
function fakeProcess(pid: number): SignalTarget & { handlers: Map<string, () => void>; exits: number[] } {
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
    exit(code: number): never {
      exits.push(code);
      return undefined as never;
    },
  };
}

describe('installPid1SignalHandlers', () => {
  const cases = [
    { signal: 'SIGTERM', code: 143 },
    { signal: 'SIGINT', code: 130 },
  ] as const;
  for (const c of cases) {
    test(`as PID 1, ${c.signal} exits with ${c.code} and says why`, () => {
      const proc = fakeProcess(1);
      const lines: string[] = [];
      assert.equal(installPid1SignalHandlers(proc, { write: (s: string) => lines.push(s) }), true);
      proc.handlers.get(c.signal)?.();
      assert.deepEqual(proc.exits, [c.code]);
      assert.match(lines.join(''), new RegExp(`received ${c.signal}: stopping \\(exit ${c.code}\\)`));
    });
  }

  test('any other PID keeps the default actions (no handlers)', () => {
    const proc = fakeProcess(4242);
    assert.equal(installPid1SignalHandlers(proc, { write: () => undefined }), false);
    assert.equal(proc.handlers.size, 0);
  });
});
