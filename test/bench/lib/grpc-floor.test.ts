import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { FLOOR_BYTES, receiveFloorRounds, runFloorProcesses, startFloorSender } from '../../../bench/lib/grpc-floor.js';

const MIB = 1024 * 1024;
/** The compiled benchmark, re-run as its own peers. */
const SCRIPT = fileURLToPath(new URL('../../../bench/allreduce.js', import.meta.url));

describe('bench:allreduce --grpc-floor', () => {
  it('measures a ring rank\'s bytes at N = 3, 64 MiB: 2(N-1)/N of the buffer', () => {
    assert.equal(FLOOR_BYTES, Math.round((4 / 3) * 64 * MIB));
  });

  const cases = [
    { name: 'whole messages', totalBytes: 3 * MIB, messageBytes: MIB },
    { name: 'a short last message', totalBytes: 2.5 * MIB, messageBytes: MIB },
  ];
  for (const c of cases) {
    it(`in one process, every byte arrives each round and both sides report CPU time: ${c.name}`, async () => {
      const sent: number[] = [];
      const sender = await startFloorSender({ totalBytes: c.totalBytes, messageBytes: c.messageBytes, onSent: (s) => sent.push(s) });
      try {
        const rounds = await receiveFloorRounds(sender.port, 2);
        assert.deepEqual(rounds.map((r) => r.bytes), [c.totalBytes, c.totalBytes]);
        for (const r of rounds) assert.ok(r.seconds > 0 && r.cpuSeconds > 0, JSON.stringify(r));
        assert.equal(sent.length, 2);
        for (const s of sent) assert.ok(s >= 0);
      } finally {
        sender.close();
      }
    });
  }

  it('in two processes, pairs each round\'s sender and receiver CPU', { timeout: 60_000 }, async () => {
    const rounds = await runFloorProcesses(SCRIPT, { totalBytes: 2 * MIB, messageBytes: MIB, rounds: 2 });
    assert.equal(rounds.length, 2);
    for (const r of rounds) {
      assert.equal(r.bytes, 2 * MIB);
      assert.ok(r.seconds > 0 && r.receiverCpuSeconds > 0 && r.senderCpuSeconds > 0, JSON.stringify(r));
    }
  });

  it('fails with the reason when the receiver cannot reach the sender', { timeout: 60_000 }, async () => {
    await assert.rejects(receiveFloorRounds(1, 1), /UNAVAILABLE|ECONNREFUSED|No connection/);
  });
});
