import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORKER_ENV } from '../../../common/contract.js';
import { parseWorkerEnv } from '../../../worker/distributed/worker-env.js';
import type { RunMetrics } from '../../../worker/train/metrics.js';
import { buildDatLinkRow, buildLinkWorkerEnv, checkDatLinkTargets, type DatLinkRow } from '../../../bench/lib/dat-link.js';
import { buildLinkPlan } from '../../../bench/lib/netns-link.js';

test('buildLinkWorkerEnv puts each rank on its namespace address, and the worker accepts it', () => {
  const plan = buildLinkPlan({ hosts: 4, rate: '1gbit', tag: 't1' });
  for (let rank = 0; rank < 4; rank++) {
    const env = buildLinkWorkerEnv(plan, rank, { KEEP: 'x' }, 29500);
    assert.equal(env.KEEP, 'x');
    assert.equal(env.DAT_INSECURE_RING, '1');
    const w = parseWorkerEnv(env);
    assert.deepEqual(
      { rank: w.rank, worldSize: w.worldSize, bind: w.ringBind, port: w.ringPort, peers: w.peers },
      { rank, worldSize: 4, bind: `10.213.0.${rank + 1}`, port: 29500, peers: ['10.213.0.1:29500', '10.213.0.2:29500', '10.213.0.3:29500', '10.213.0.4:29500'] },
    );
  }
  assert.throws(() => buildLinkWorkerEnv(plan, 4, {}), /no host 4/);
  assert.equal(buildLinkWorkerEnv(plan, 0, { [WORKER_ENV.rank]: '7' })[WORKER_ENV.rank], '0');
});

const metrics = (over: Partial<RunMetrics>): RunMetrics =>
  ({ cleanAccuracy: 0.9, robustAccuracy: 0.8, epochsCompleted: 2, history: [{ epoch: 1, loss: 1, imagesPerSecond: 1, seconds: 10, lr: 0.1 }, { epoch: 2, loss: 1, imagesPerSecond: 1, seconds: 12, lr: 0.1 }], ...over }) as RunMetrics;

test('buildDatLinkRow takes training time per epoch from the time split, else from the epoch records', () => {
  const cases: Array<{ name: string; input: RunMetrics; want: { train: number; allreduce: number } }> = [
    { name: 'time split, evaluation left out', input: metrics({ timeSplit: { attackSeconds: 4, gradientSeconds: 2, allreduceSeconds: 6, updateSeconds: 2, evaluationSeconds: 100 } }), want: { train: 7, allreduce: 3 } },
    { name: 'no time split', input: metrics({}), want: { train: 11, allreduce: 0 } },
  ];
  for (const c of cases) {
    const r = buildDatLinkRow('none', c.input, 50);
    assert.deepEqual({ train: r.trainSecondsPerEpoch, allreduce: r.allreduceSecondsPerEpoch }, c.want, c.name);
    assert.deepEqual(r.epochSeconds, [10, 12], c.name);
  }
});

test('checkDatLinkTargets compares sign-ef with none', () => {
  const row = (compression: DatLinkRow['compression'], train: number, robust: number): DatLinkRow =>
    ({ compression, clean: 0.9, robust, trainSecondsPerEpoch: train, epochSeconds: [], allreduceSecondsPerEpoch: 0, bytesPerStep: undefined, wallSeconds: 0 });
  const cases: Array<{ name: string; input: DatLinkRow[]; want: ReturnType<typeof checkDatLinkTargets> }> = [
    { name: 'both met', input: [row('none', 30, 0.8), row('sign-ef', 10, 0.79)], want: { speedup: 3, speedupMet: true, robustDrop: 0.8 - 0.79, robustMet: true } },
    { name: 'both missed', input: [row('none', 20, 0.8), row('sign-ef', 10, 0.7)], want: { speedup: 2, speedupMet: false, robustDrop: 0.8 - 0.7, robustMet: false } },
    { name: 'no sign-ef row', input: [row('none', 20, 0.8)], want: {} },
  ];
  for (const c of cases) assert.deepEqual(checkDatLinkTargets(c.input), c.want, c.name);
});
