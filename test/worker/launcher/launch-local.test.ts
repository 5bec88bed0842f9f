import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorkerEnv, describeRunFailure, describeWorkerExit, pickFreePorts, rootFailure, runExitCode } from '../../../worker/launcher/launch-local.js';

test('describeWorkerExit names the worker and how it ended', () => {
  assert.equal(describeWorkerExit({ rank: 2, code: 3, signal: null }), 'worker rank 2 exited with code 3');
  assert.equal(describeWorkerExit({ rank: 1, code: null, signal: 'SIGKILL' }), 'worker rank 1 was killed by SIGKILL');
});

test('runExitCode: permanent codes pass through, anything else is a peer failure', () => {
  const cases = [
    { input: undefined, want: 0 },
    { input: { rank: 0, code: 2, signal: null }, want: 2 },
    { input: { rank: 0, code: 4, signal: null }, want: 4 },
    { input: { rank: 1, code: 1, signal: null }, want: 3 },
    { input: { rank: 1, code: null, signal: 'SIGKILL' as const }, want: 3 },
  ];
  for (const c of cases) assert.equal(runExitCode(c.input), c.want, JSON.stringify(c.input));
});

test('buildWorkerEnv gives each rank the whole ring and its own port', async () => {
  const ports = await pickFreePorts(3);
  assert.equal(new Set(ports).size, 3);
  const env = buildWorkerEnv(1, ports, { KEEP: 'x' });
  assert.equal(env.DAT_RANK, '1');
  assert.equal(env.DAT_WORLD_SIZE, '3');
  assert.equal(env.DAT_PEERS, ports.map((p) => `127.0.0.1:${p}`).join(','));
  assert.equal(env.DAT_RING_PORT, String(ports[1]));
  assert.equal(env.KEEP, 'x');
  assert.equal(env.DAT_INSECURE_RING, '1', 'no TLS directory: an explicit plain-text ring');
  const tls = buildWorkerEnv(1, ports, { DAT_INSECURE_RING: '1', DAT_TLS_DIR: '/stale' }, true);
  assert.equal(tls.DAT_RING_TLS_STDIN, '1', 'keys arrive on stdin, not in a directory');
  assert.equal(tls.DAT_TLS_DIR, undefined);
  assert.equal(tls.DAT_INSECURE_RING, undefined, 'mutual TLS as in a pod');
});

test('rootFailure names the cause, not the survivors that reported a peer failure', () => {
  const cases = [
    { name: 'none', input: [], want: undefined },
    { name: 'bad config behind peer failures', input: [{ rank: 0, code: 3, signal: null }, { rank: 2, code: 2, signal: null }], want: 2 },
    { name: 'killed worker behind peer failures', input: [{ rank: 0, code: 3, signal: null }, { rank: 1, code: null, signal: 'SIGKILL' as const }], want: 1 },
    { name: 'only peer failures: the first', input: [{ rank: 2, code: 3, signal: null }, { rank: 0, code: 3, signal: null }], want: 2 },
  ];
  for (const c of cases) assert.equal(rootFailure(c.input)?.rank, c.want, c.name);
});

test('rootFailure: a worker the launcher killed while stopping the run is not the cause', () => {
  const cases = [
    { name: 'survivor killed by our SIGTERM behind a peer failure', input: [{ rank: 2, code: 3, signal: null }, { rank: 0, code: null, signal: 'SIGTERM' as const, stoppedByLauncher: true }], want: 2 },
    { name: 'own crash wins over our kills', input: [{ rank: 0, code: null, signal: 'SIGKILL' as const, stoppedByLauncher: true }, { rank: 1, code: 1, signal: null }], want: 1 },
    { name: 'only our kills: the first', input: [{ rank: 1, code: null, signal: 'SIGKILL' as const, stoppedByLauncher: true }], want: 1 },
  ];
  for (const c of cases) assert.equal(rootFailure(c.input)?.rank, c.want, c.name);
});

test('describeRunFailure names the rank the survivors found unresponsive, or the worker with its own last error', () => {
  const peerFailure = { rank: 2, code: 3, signal: null };
  const cases = [
    {
      name: 'a stopped rank named by a survivor; an abort relayed by another is ignored',
      root: peerFailure,
      blames: [{ reporter: 0, peerRank: 2, failure: 'aborted', reason: 'rank 2 aborted' }, { reporter: 2, peerRank: 1, failure: 'timeout', reason: 'rank 2 timed out; unresponsive: rank 1' }],
      want: 'worker rank 1 stopped answering its peers (rank 2: rank 2 timed out; unresponsive: rank 1)',
    },
    { name: 'no blame: the worker', root: peerFailure, blames: [], want: 'worker rank 2 exited with code 3' },
    {
      name: 'a bind failure: the worker and its error line',
      root: { rank: 0, code: 1, signal: null },
      blames: [{ reporter: 1, peerRank: 0, failure: 'disconnected', reason: 'x' }],
      want: 'worker rank 0 exited with code 1: ring server could not listen on 127.0.0.1:5: EADDRINUSE',
    },
  ];
  const lastErrors = new Map([[0, 'ring server could not listen on 127.0.0.1:5: EADDRINUSE']]);
  for (const c of cases) assert.equal(describeRunFailure(c.root, c.blames, lastErrors), c.want, c.name);
});
