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
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKER_ENV } from '../../../common/contract.js';
import { readTerminationReport } from '../../../operator/progress-report.js';
import { TERMINATION_LOG_ENV } from '../../../worker/cli/termination-message.js';
import { WEIGHT_DIGEST_ENV } from '../../../worker/distributed/worker-env.js';
import { createJobCa } from '../../../common/certs.js';
import { JOB_CA_KEY_FILE, TLS_FILES } from '../../../common/tls-files.js';
import { startDatTrain } from '../../support/dat-train-process.js';
import { datCommand } from '../../support/paths.js';

const TINY = ['--dataset', 'mnist', '--limit', '128', '--test-size', '64', '--model', 'mlp', '--attack', 'fgsm', '--batch-size', '32', '--eval-size', '32', '--eval-attack-steps', '1', '--backend', 'cpu', '--progress', 'none', '--epochs', '1'];

async function canListen(port: number): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => srv.close(() => resolve()));
  return ok;
}

/**
 * A port prefix P such that ports P0 and P1 are free: the template
 * `127.0.0.1:P{rank}` then names rank 0 and rank 1, as the operator's
 * `<job>-worker-{rank}.<svc>` names every pod.
 */
async function freePortPrefix(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = 2000 + Math.floor(Math.random() * 4000);
    if ((await canListen(prefix * 10)) && (await canListen(prefix * 10 + 1))) return prefix;
  }
  throw new Error('no free pair of ports found');
}

test('ranks started like pods find their peers from DAT_PEER_TEMPLATE and form an mTLS ring from the job CA alone', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-podmode-'));
  const job = { namespace: 'team-a', name: 'mnist' };
  try {
    const tlsDir = join(dir, 'ring-tls');
    await mkdir(tlsDir, { mode: 0o700 });
    const ca = await createJobCa(job);
    await writeFile(join(tlsDir, TLS_FILES.ca), ca.certPem);
    await writeFile(join(tlsDir, JOB_CA_KEY_FILE), ca.keyPem, { mode: 0o600 });
    const prefix = await freePortPrefix();
    // As the kubelet does, the termination log exists (empty) before the container starts.
    const termLogs = [0, 1].map((rank) => join(dir, `termination-log-${rank}`));
    for (const path of termLogs) await writeFile(path, '');
    const runs = [0, 1].map((rank) =>
      startDatTrain([...TINY, '--output', join(dir, `out-${rank}`)], {
        [WORKER_ENV.rank]: String(rank),
        [WORKER_ENV.worldSize]: '2',
        [WORKER_ENV.peers]: undefined,
        [WORKER_ENV.peerTemplate]: `127.0.0.1:${prefix}{rank}`,
        [WORKER_ENV.ringBind]: '127.0.0.1',
        [WORKER_ENV.ringPort]: String(prefix * 10 + rank),
        [WORKER_ENV.jobName]: job.name,
        [WORKER_ENV.namespace]: job.namespace,
        [WORKER_ENV.tlsDir]: tlsDir,
        [WEIGHT_DIGEST_ENV]: '1',
        [TERMINATION_LOG_ENV]: termLogs[rank],
      }, { command: datCommand() }),
    );
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

