import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandPeerTemplate, parseWorkerEnv } from '../../../worker/distributed/worker-env.js';
import { ConfigError } from '../../../common/errors.js';

const base = { DAT_RANK: '1', DAT_WORLD_SIZE: '2', DAT_PEERS: 'a:1,b:2', DAT_RING_PORT: '29500' };

test('parseWorkerEnv reads a complete environment', () => {
  assert.deepEqual(parseWorkerEnv({ ...base, DAT_METRICS_PORT: '9400', DAT_JOB_NAME: 'j', DAT_RESTART_COUNT: '3', DAT_RING_BIND: '127.0.0.1' }), {
    rank: 1, worldSize: 2, peers: ['a:1', 'b:2'], ringBind: '127.0.0.1', ringPort: 29500, metricsPort: 9400, jobName: 'j', restartCount: 3,
  });
});

test('parseWorkerEnv expands DAT_PEER_TEMPLATE for every rank and reads DAT_NAMESPACE', () => {
  const { DAT_PEERS: _list, ...noList } = base;
  const cases: Array<{ name: string; env: Record<string, string>; want: { peers: string[]; namespace?: string } }> = [
    { name: 'pod DNS names', env: { ...noList, DAT_PEER_TEMPLATE: 'j-worker-{rank}.j.ns.svc:29500' }, want: { peers: ['j-worker-0.j.ns.svc:29500', 'j-worker-1.j.ns.svc:29500'] } },
    { name: 'with namespace', env: { ...noList, DAT_PEER_TEMPLATE: 'h{rank}:1', DAT_NAMESPACE: 'ns' }, want: { peers: ['h0:1', 'h1:1'], namespace: 'ns' } },
  ];
  for (const c of cases) {
    const got = parseWorkerEnv(c.env);
    assert.deepEqual({ peers: got.peers, ...(got.namespace !== undefined ? { namespace: got.namespace } : {}) }, c.want, c.name);
  }
});

test('expandPeerTemplate names ranks 0..world-1 and keeps its input size constant', () => {
  const t = 'j-worker-{rank}.j.ns.svc:29500';
  const got = expandPeerTemplate(t, 1024);
  assert.equal(got.length, 1024);
  assert.equal(got[0], 'j-worker-0.j.ns.svc:29500');
  assert.equal(got[1023], 'j-worker-1023.j.ns.svc:29500');
  assert.equal(new Set(got).size, 1024);
});

const { DAT_PEERS: _unused, ...withoutPeers } = base;
const bad: Array<{ name: string; env: Record<string, string>; want: RegExp }> = [
  { name: 'no peers at all', env: withoutPeers, want: /DAT_PEERS or DAT_PEER_TEMPLATE is required/ },
  { name: 'both peer forms', env: { ...base, DAT_PEER_TEMPLATE: 'h{rank}:1' }, want: /both set; set one/ },
  { name: 'template without placeholder', env: { ...withoutPeers, DAT_PEER_TEMPLATE: 'h:1' }, want: /has no \{rank\} placeholder/ },
  { name: 'template without port', env: { ...withoutPeers, DAT_PEER_TEMPLATE: 'h{rank}' }, want: /DAT_PEER_TEMPLATE: "h0" is not host:port/ },
  { name: 'missing rank', env: { ...base, DAT_RANK: '' }, want: /DAT_RANK is required/ },
  { name: 'rank not below world size', env: { ...base, DAT_RANK: '2' }, want: /not below DAT_WORLD_SIZE/ },
  { name: 'peer count differs', env: { ...base, DAT_PEERS: 'a:1' }, want: /lists 1 addresses, expected 2/ },
  { name: 'peer without port', env: { ...base, DAT_PEERS: 'a:1,b' }, want: /"b" is not host:port/ },
  { name: 'non-integer port', env: { ...base, DAT_RING_PORT: 'x' }, want: /DAT_RING_PORT=x/ },
];
for (const c of bad) {
  test(`parseWorkerEnv rejects: ${c.name}`, () => {
    assert.throws(() => parseWorkerEnv(c.env), (e: unknown) => e instanceof ConfigError && c.want.test(e.message));
  });
}
