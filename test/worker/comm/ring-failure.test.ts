/**
 * Multi-process failure tests of the gRPC ring: each rank is its own OS
 * process (ring-peer-entry.ts). A peer killed mid-step or hung (SIGSTOP) must
 * make every other rank fail within the deadline with a retryable RingError
 * naming it; nobody hangs, nobody returns a wrong sum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killPeers, startPeers, type PeerEvent } from './_ring-peers.js';

const TIMEOUT_MS = 1500;
/** Slack for process scheduling on a loaded 2-core machine. */
const SLACK_MS = 3500;

async function runFailure(signal: 'SIGKILL' | 'SIGSTOP'): Promise<void> {
  const world = 3;
  const victim = 1;
  const peers = await startPeers(world, { RING_PEER_TIMEOUT_MS: String(TIMEOUT_MS), RING_PEER_ELEMENTS: String(1 << 19) });
  try {
    await Promise.all(peers.map((p) => p.waitFor((e) => e.event === 'step' && Number(e.step) >= 2, 30_000)));
    const t0 = Date.now();
    peers[victim]!.child.kill(signal);
    const survivors = peers.filter((p) => p.rank !== victim);
    const errors: PeerEvent[] = await Promise.all(survivors.map((p) => p.waitFor((e) => e.event === 'error', TIMEOUT_MS + SLACK_MS + 2000)));
    const codes = await Promise.all(survivors.map((p) => p.exited));
    for (const [i, e] of errors.entries()) {
      const elapsed = Number(e.t) - t0;
      assert.ok(elapsed <= TIMEOUT_MS + SLACK_MS, `rank ${survivors[i]!.rank} failed after ${elapsed} ms`);
      assert.match(String(e.message), new RegExp(`rank ${victim}\\b`), `rank ${survivors[i]!.rank}'s error must name rank ${victim}: ${String(e.message)}`);
      assert.equal(e.retryable, true);
      if (signal === 'SIGSTOP') assert.match(String(e.message), /timed out/);
    }
    assert.deepEqual(codes, survivors.map(() => 3));
  } finally {
    killPeers(peers);
  }
}

test('a peer killed mid-step fails every other rank within the deadline, naming it', { timeout: 60_000 }, () => runFailure('SIGKILL'));
test('a hung peer (SIGSTOP) fails every other rank with a deadline error naming it', { timeout: 60_000 }, () => runFailure('SIGSTOP'));
