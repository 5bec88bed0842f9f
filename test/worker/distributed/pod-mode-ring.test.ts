/**
 * Two ranks started one by one as the operator's pods start them (not by the
 * local launcher): peers from DAT_PEER_TEMPLATE plus DAT_WORLD_SIZE, and a
 * ring TLS directory holding only the job CA (`ca.crt`, `ca.key`) from which
 * each rank issues its own certificate. The ring must form over mutual TLS
 * and train to the same weights on both ranks. Each rank runs the `dat`
 * command itself (bin/dat.js, as a pod's command), shebang flags included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTerminationReport } from '../../../operator/progress-report.js';
import { WEIGHT_DIGEST_ENV } from '../../../worker/distributed/worker-env.js';
import { preparePodModeGang } from '../../support/pod-mode-ranks.js';

const TINY = ['--dataset', 'mnist', '--limit', '128', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1', '--backend', 'cpu', '--progress', 'none', '--epochs', '1'];

test('ranks started like pods find their peers from DAT_PEER_TEMPLATE and form an mTLS ring from the job CA alone', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-podmode-'));
  try {
    const gang = await preparePodModeGang(dir, 2);
    const { job, termLogs } = gang;
    const runs = await gang.start((rank) => [...TINY, '--output', join(dir, `out-${rank}`)], { [WEIGHT_DIGEST_ENV]: '1' });
    const exits = await Promise.all(runs.map((r) => r.exited));
    for (const [rank, e] of exits.entries()) assert.equal(e.code, 0, `rank ${rank}:\n${runs[rank]!.lines.slice(-20).join('\n')}`);
    for (const [rank, r] of runs.entries()) {
      assert.ok(r.lines.some((l) => l.includes('Loaded ring TLS credentials') && l.includes(`job=${job.namespace}/${job.name}`) && l.includes(`rank=${rank}`)), `rank ${rank} issued its own certificate`);
      // The `dat` command's shebang started node with the workers' flags, as in a pod.
      assert.ok(r.lines.some((l) => l.includes('Started ring server') && l.includes('incrementalMarking=false')), `rank ${rank} runs without incremental marking:\n${r.lines.filter((l) => l.includes('ring server')).join('\n')}`);
    }
    // The operator's reader finds rank 0's final report in its termination message; rank 1 leaves none.
    const message = await readFile(termLogs[0]!, 'utf8');
    const report = readTerminationReport({ status: { containerStatuses: [{ name: 'worker', state: { terminated: { exitCode: 0, message } } }] } } as never);
    assert.equal(report?.phase, 'done', message);
    assert.equal(report?.epoch, 1, message);
    assert.equal(await readFile(termLogs[1]!, 'utf8'), '');
    const finalDigest = (lines: readonly string[]): string | undefined => lines.map((l) => /Digested weights .*step=final digest=(\S+)/.exec(l)?.[1]).find((d) => d !== undefined);
    const digests = runs.map((r) => finalDigest(r.lines));
    assert.ok(digests[0] !== undefined, 'rank 0 logged its final weights');
    assert.equal(digests[1], digests[0], 'both ranks end with the same weights');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

