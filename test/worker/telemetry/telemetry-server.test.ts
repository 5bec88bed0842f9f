import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { METRICS_PATH, PROGRESS_PATH, type ProgressReport } from '../../../common/contract.js';
import { createTelemetryServer } from '../../../worker/telemetry/telemetry-server.js';
import { createTrainingMetrics, METRIC_NAMES } from '../../../worker/telemetry/training-metrics.js';

describe('telemetry server', () => {
  it('serves progress JSON and Prometheus metrics on localhost:0', async () => {
    const registry = new Registry();
    const metrics = createTrainingMetrics(registry);
    let progress: ProgressReport = { phase: 'starting', epoch: 0, totalEpochs: 3, step: 0, totalSteps: 30, lastHeartbeat: new Date(0).toISOString() };
    const server = createTelemetryServer({ port: 0, host: '127.0.0.1', getProgress: () => progress, registry });
    const port = await server.start();
    try {
      const base = `http://127.0.0.1:${port}`;
      assert.deepEqual(await (await fetch(base + PROGRESS_PATH)).json(), progress);

      progress = { ...progress, phase: 'training', epoch: 1, step: 7, loss: 0.42, imagesPerSecond: 300, cleanAccuracy: 0.9 };
      metrics.observeProgress(progress);
      metrics.observeProgress({ ...progress, step: 7 }); // same step: no double count
      metrics.observeStep(0.2, { attackSeconds: 0.12, gradientSeconds: 0.05, allreduceSeconds: 0.02, updateSeconds: 0.004 });
      metrics.addAllreduceBytes(1024);
      const res = await fetch(base + METRICS_PATH);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.match(text, new RegExp(`^${METRIC_NAMES.steps} 7$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.imagesPerSecond} 300$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.loss} 0.42$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.cleanAccuracy} 0.9$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.stepDuration}_count 1$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.stepPhaseDuration}_sum\\{phase="attack"\\} 0.12$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.stepPhaseDuration}_count\\{phase="update"\\} 1$`, 'm'));
      assert.match(text, new RegExp(`^${METRIC_NAMES.allreduceBytes} 1024$`, 'm'));
      assert.equal((await (await fetch(base + PROGRESS_PATH)).json() as ProgressReport).step, 7);
      assert.equal((await fetch(base + '/nope')).status, 404);
      assert.equal((await fetch(base + PROGRESS_PATH, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
      await server.close(); // idempotent
    }
  });

  it('reports a port already in use', async () => {
    const registry = new Registry();
    const a = createTelemetryServer({ port: 0, host: '127.0.0.1', getProgress: () => ({}) as ProgressReport, registry });
    const port = await a.start();
    const b = createTelemetryServer({ port, host: '127.0.0.1', getProgress: () => ({}) as ProgressReport, registry });
    try {
      await assert.rejects(b.start(), new RegExp(`failed to bind telemetry server on port ${port}`));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
