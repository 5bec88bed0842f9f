import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorkerEnv } from '../../../worker/distributed/worker-env.js';
import { ConfigError } from '../../../worker/util/errors.js';

const base = { DAT_RANK: '1', DAT_WORLD_SIZE: '2', DAT_PEERS: 'a:1,b:2', DAT_RING_PORT: '29500' };

test('parseWorkerEnv reads a complete environment', () => {
  assert.deepEqual(parseWorkerEnv({ ...base, DAT_METRICS_PORT: '9400', DAT_JOB_NAME: 'j', DAT_RESTART_COUNT: '3', DAT_RING_BIND: '127.0.0.1' }), {
    rank: 1, worldSize: 2, peers: ['a:1', 'b:2'], ringBind: '127.0.0.1', ringPort: 29500, metricsPort: 9400, jobName: 'j', restartCount: 3,
  });
});

const bad: Array<{ name: string; env: Record<string, string>; want: RegExp }> = [
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
