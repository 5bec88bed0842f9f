import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EXIT_CODES } from '../../../common/contract.js';
import { DatError } from '../../../common/errors.js';
import { STOP_CHECK_INTERVAL_SECONDS, StopRequestedError, stopControl, type StopAgreement, type StopSignals } from '../../../worker/train/graceful-stop.js';

/** Signals that report `signal` (or none) and count arm/disarm calls. */
function fakeSignals(signal?: NodeJS.Signals): StopSignals & { armed: number; disarmed: number } {
  return {
    armed: 0,
    disarmed: 0,
    requested: () => signal,
    arm() {
      this.armed++;
    },
    disarm() {
      this.disarmed++;
    },
  };
}

/** A ring of `world` ranks whose stop controls sum their flags as the ring would. */
async function agreeAll(signalled: Readonly<Record<number, NodeJS.Signals>>, world: number): Promise<(StopAgreement | undefined)[]> {
  const contributions: Float32Array[] = [];
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  const sum = async (buf: Float32Array): Promise<Float32Array> => {
    contributions.push(buf);
    if (contributions.length === world) release();
    await all;
    const total = new Float32Array(buf.length);
    for (const c of contributions) c.forEach((v, i) => (total[i]! += v));
    return total;
  };
  return Promise.all(Array.from({ length: world }, (_, rank) => stopControl(fakeSignals(signalled[rank]), rank, world, sum).atBoundary()));
}

describe('stopControl', () => {
  const cases = [
    { what: 'no rank signalled', world: 3, signalled: {}, ranks: undefined },
    { what: 'rank 1 of 3 got SIGTERM', world: 3, signalled: { 1: 'SIGTERM' }, ranks: [1] },
    { what: 'every rank got SIGTERM', world: 4, signalled: { 0: 'SIGTERM', 1: 'SIGTERM', 2: 'SIGTERM', 3: 'SIGTERM' }, ranks: [0, 1, 2, 3] },
    { what: 'ranks 0 and 2 of 3, different signals', world: 3, signalled: { 0: 'SIGINT', 2: 'SIGTERM' }, ranks: [0, 2] },
  ] as const;
  for (const c of cases) {
    test(`${c.what}: every rank reads the same ranks, and its own signal`, async () => {
      const got = await agreeAll(c.signalled as Record<number, NodeJS.Signals>, c.world);
      for (const [rank, a] of got.entries()) {
        if (c.ranks === undefined) {
          assert.equal(a, undefined, `rank ${rank}`);
          continue;
        }
        assert.deepEqual(a?.ranks, c.ranks, `rank ${rank}`);
        assert.equal(a?.own, (c.signalled as Record<number, string>)[rank], `rank ${rank}`);
      }
    });
  }

  test('one process needs no collective', async () => {
    assert.equal(await stopControl(fakeSignals(), 0, 1).atBoundary(), undefined);
    assert.deepEqual(await stopControl(fakeSignals('SIGINT'), 0, 1).atBoundary(), { ranks: [0], own: 'SIGINT' });
  });

  const spacing = [
    { what: 'steps of a tenth of the interval: every 10th boundary', stepSeconds: STOP_CHECK_INTERVAL_SECONDS / 10, agreedAt: [1, 11, 21] },
    { what: 'steps of a third of the interval: every 3rd boundary', stepSeconds: STOP_CHECK_INTERVAL_SECONDS / 3, agreedAt: [1, 4, 7, 10, 13, 16, 19, 22, 25, 28] },
    { what: 'steps longer than the interval: every boundary', stepSeconds: STOP_CHECK_INTERVAL_SECONDS * 2, agreedAt: Array.from({ length: 30 }, (_, i) => i + 1) },
  ];
  for (const c of spacing) {
    test(`agreements are spaced by the ranks' mean step time: ${c.what}`, async () => {
      let clock = 0;
      const agreedAt: number[] = [];
      let boundary = 0;
      // One rank's view; the fake sum answers as N identical ranks would.
      const world = 3;
      const control = stopControl(fakeSignals(), 0, world, async (buf) => {
        agreedAt.push(boundary);
        return buf.map((v, i) => (i === world ? v * world : v));
      }, () => clock);
      control.arm();
      for (boundary = 1; boundary <= 30; boundary++) {
        clock += c.stepSeconds * 1000;
        await control.atBoundary();
      }
      assert.deepEqual(agreedAt, c.agreedAt);
    });
  }

  test('a due boundary (after a checkpoint) always agrees', async () => {
    let calls = 0;
    const control = stopControl(fakeSignals(), 0, 2, async (buf) => {
      calls++;
      return buf.map((v, i) => (i === 2 ? 0.002 : v));
    }, () => 0);
    await control.atBoundary();
    await control.atBoundary();
    await control.atBoundary({ due: true });
    assert.equal(calls, 2, 'the first boundary, then the due one; the one between was not due');
  });

  test('arm and disarm reach the signals', () => {
    const signals = fakeSignals();
    const control = stopControl(signals, 0, 1);
    control.arm();
    control.disarm();
    assert.deepEqual([signals.armed, signals.disarmed], [1, 1]);
  });
});

describe('StopRequestedError', () => {
  const cases = [
    { what: 'the rank that got SIGTERM', agreement: { ranks: [1], own: 'SIGTERM' }, exitCode: EXIT_CODES.terminated, message: /^received SIGTERM: saved the checkpoint at step 42 in \/ck and stopped/ },
    { what: 'the rank that got SIGINT', agreement: { ranks: [0], own: 'SIGINT' }, exitCode: EXIT_CODES.interrupted, message: /^received SIGINT: / },
    { what: 'a rank whose peer got it', agreement: { ranks: [1], own: undefined }, exitCode: EXIT_CODES.peerFailure, message: /^stopping with rank 1, which received a stop signal: saved the checkpoint at step 42/ },
    { what: 'a rank whose peers got it', agreement: { ranks: [0, 2], own: undefined }, exitCode: EXIT_CODES.peerFailure, message: /^stopping with ranks 0, 2, which/ },
  ] as const;
  for (const c of cases) {
    test(`${c.what}: exit ${c.exitCode}, retryable, says where the checkpoint is`, () => {
      const err = new StopRequestedError({ ranks: [...c.agreement.ranks], own: c.agreement.own }, 42, '/ck');
      assert.equal(err.exitCode, c.exitCode);
      assert.ok(err instanceof DatError && err.retryable);
      assert.equal(err.step, 42);
      assert.match(err.message, c.message);
    });
  }
});
