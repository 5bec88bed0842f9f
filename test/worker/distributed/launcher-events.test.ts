import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLauncherEvent, parseLauncherEvent } from '../../../worker/distributed/launcher-events.js';

test('launcher events round-trip; other lines are not events', () => {
  const events = [{ ringListening: { port: 29500 } }, { ringFailure: { peerRank: 1, failure: 'timeout', reason: 'r' } }, { ringFailure: { failure: 'closed', reason: 'r' } }];
  for (const e of events) assert.deepEqual(parseLauncherEvent(formatLauncherEvent(e)), e);
  for (const line of ['', 'hello', '{"phase":"training","step":1,"totalSteps":2}', '{"ringListening":{"port":"x"}}', '{"ring', '{"ringFailure":{"failure":1}}']) {
    assert.equal(parseLauncherEvent(line), undefined, line);
  }
});
