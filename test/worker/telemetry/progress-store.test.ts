import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProgressStore } from '../../../worker/telemetry/progress-store.js';

describe('createProgressStore', () => {
  it('starts in phase starting, drops extra fields and keeps the last accuracies', () => {
    const store = createProgressStore(() => new Date(0));
    assert.deepEqual(store.get(), { phase: 'starting', epoch: 0, totalEpochs: 0, step: 0, totalSteps: 0, lastHeartbeat: '1970-01-01T00:00:00.000Z' });
    const t = '2026-01-01T00:00:00.000Z';
    store.update({ phase: 'evaluating', epoch: 1, totalEpochs: 2, step: 10, totalSteps: 20, cleanAccuracy: 0.9, robustAccuracy: 0.5, lastHeartbeat: t });
    const step = { phase: 'training', epoch: 2, totalEpochs: 2, step: 11, totalSteps: 20, loss: 0.3, lastHeartbeat: t, rank: 0, globalBatch: 64 } as const;
    store.update(step);
    assert.deepEqual(store.get(), { phase: 'training', epoch: 2, totalEpochs: 2, step: 11, totalSteps: 20, loss: 0.3, cleanAccuracy: 0.9, robustAccuracy: 0.5, lastHeartbeat: t });
  });
});
