/**
 * The local launcher and its workers under hostile and careless conditions,
 * through the real CLI on 127.0.0.1: intruders holding connections to the
 * ring ports, a stopped (SIGSTOP) rank, a squatted ring port, and a launcher
 * killed with SIGKILL. Every run is bounded and every child is killed in the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, startDatTrain, TINY_TRAIN_ARGS, type DatTrainRun } from '../../support/dat-train-process.js';

const TINY = TINY_TRAIN_ARGS;

type Run = DatTrainRun;
const startDat = startDatTrain;

const alive = isAlive;

/** Last resort so no test leaves a process behind (SIGCONT first, in case one was stopped). */
function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    if (!alive(pid)) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function workerPids(run: Run, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, async (_, r) => Number((await run.waitForLine(new RegExp(`started worker rank ${r} pid (\\d+)`), 30_000))[1])));
}

test('intruders holding connections to the ring ports do not keep a finished run alive', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-hostile-'));
  const run = startDat([...TINY, '--workers', '2', '--epochs', '2', '--output', out]);
  const intruders: net.Socket[] = [];
  let running = true;
  let pids: number[] = [];
  try {
    pids = await workerPids(run, 2);
    const ports = await Promise.all([0, 1].map(async (r) => Number((await run.waitForLine(new RegExp(`worker rank ${r} listening on ring port (\\d+)`), 30_000))[1])));
    // Idle TCP (slowloris) and TLS without a certificate, re-opened as the server drops them, until the
    // run ends (at most 2,000 sockets, so a run that never ends cannot exhaust this process's files).
    const open = (): void => {
      if (!running || intruders.length >= 2_000) return;
      for (const port of ports) {
        const raw = net.connect(port, '127.0.0.1');
        const noCert = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
        for (const s of [raw, noCert]) {
          s.on('error', () => undefined);
          s.once('close', () => {
            if (running) setTimeout(open, 50);
          });
          intruders.push(s);
        }
      }
    };
    for (let i = 0; i < 5; i++) open();
    const finished = await Promise.race([run.waitForLine(/Finished training/, 90_000).then(() => Date.now()), run.exited.then(() => Date.now())]);
    const end = await run.exited;
    running = false;
    assert.equal(end.code, 0, run.lines.slice(-20).join('\n'));
    assert.ok(end.at - finished < 15_000, `the run exited ${end.at - finished} ms after training finished`);
    for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} is still running`);
  } finally {
    running = false;
    for (const s of intruders) s.destroy();
    killAll([...pids, run.child.pid!]);
    await rm(out, { recursive: true, force: true });
  }
});

test('a stopped rank (SIGSTOP) is named and the run ends within the collective timeout plus a bounded grace', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'dat-hostile-'));
  const timeoutMs = 3_000;
  const run = startDat([...TINY, '--workers', '3', '--epochs', '200', '--collective-timeout-ms', String(timeoutMs), '--output', out]);
  let pids: number[] = [];
  try {
    pids = await workerPids(run, 3);
    await run.waitForLine(/epoch 1\/200 {2}step \d+/, 60_000);
    const t0 = Date.now();
    process.kill(pids[1]!, 'SIGSTOP');
    const end = await run.exited;
    const took = end.at - t0;
    // Detection within a few hop deadlines, then 1 s server grace, 3 s SIGTERM grace, scheduling slack.
    assert.ok(took < 4 * timeoutMs + 15_000, `the run ended ${took} ms after the SIGSTOP`);
    assert.equal(end.code, 3, 'a peer failure is retryable (exit 3)');
    const text = run.lines.join('\n');
    assert.match(text, /training failed: worker rank 1 stopped answering its peers/);
    assert.match(text, /worker rank 1 did not stop within 3000 ms of SIGTERM; killing it with SIGKILL/);
    for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} is still running`);
  } finally {
    killAll([...pids, run.child.pid!]);
    await rm(out, { recursive: true, force: true });
  }
});

test('a worker whose ring port is squatted fails at once, naming the port', { timeout: 60_000 }, async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  const out = await mkdtemp(join(tmpdir(), 'dat-hostile-'));
  // As the launcher starts it: stdin held open (the launcher watch), a peer that never comes.
  const run = startDat([...TINY, '--epochs', '1', '--output', out], {
    DAT_RANK: '0', DAT_WORLD_SIZE: '2', DAT_PEERS: `127.0.0.1:${port},127.0.0.1:1`, DAT_RING_BIND: '127.0.0.1', DAT_RING_PORT: String(port),
    DAT_INSECURE_RING: '1', DAT_PARENT_WATCH: 'stdin', DAT_TLS_DIR: undefined,
  }, { stdin: 'pipe' });
  try {
    const t0 = Date.now();
    const end = await Promise.race([run.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
    assert.ok(end !== undefined, `the worker did not exit within 20 s:\n${run.lines.slice(-10).join('\n')}`);
    assert.ok(end.at - t0 < 15_000, `took ${end.at - t0} ms`);
    assert.equal(end.code, 1, 'retryable: the port may be free on the next start');
    assert.match(run.lines.join('\n'), new RegExp(`dat: error: ring server could not listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE; another process holds port ${port}`));
  } finally {
    killAll([run.child.pid!]);
    squatter.close();
    await rm(out, { recursive: true, force: true });
  }
});

test('a launcher killed with SIGKILL leaves no CA or key on disk and no worker behind', { timeout: 90_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dat-hostile-tmp-'));
  const out = await mkdtemp(join(tmpdir(), 'dat-hostile-'));
  const run = startDat([...TINY, '--workers', '2', '--epochs', '200', '--output', out], { TMPDIR: tmp });
  let pids: number[] = [];
  try {
    pids = await workerPids(run, 2);
    await run.waitForLine(/worker rank 1 listening on ring port/, 30_000);
    run.child.kill('SIGKILL');
    await run.exited;
    // Workers notice the closed stdin and exit.
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} outlived the launcher`);
    const left = await readdir(tmp, { recursive: true });
    assert.deepEqual(left.filter((f) => /tls|\.key|\.crt/.test(f)), [], `key material left in TMPDIR: ${left.join(', ')}`);
  } finally {
    killAll([...pids, run.child.pid!]);
    await rm(tmp, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});
