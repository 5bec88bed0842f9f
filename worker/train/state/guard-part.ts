/** The catastrophic-overfitting guard (best probe accuracy and its weights) as a checkpoint part. */
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import type { BestWeightsGuard, GuardSnapshot } from '../overfit-guard.js';

export const GUARD_PART = 'guard';
const BEST_WEIGHTS = 'best-weights';

export function createGuardPart(guard: BestWeightsGuard): CheckpointPart {
  return {
    key: GUARD_PART,
    scope: PART_SCOPES.run,
    save: () => encodeGuard(guard.snapshot()),
    check: (saved) => (typeof (saved.meta as Partial<GuardSnapshot> | undefined)?.bestEpoch === 'number' ? undefined : 'the best epoch is missing'),
    load: (saved) => guard.restore(decodeGuard(saved)),
  };
}

function encodeGuard(s: GuardSnapshot): SavedPart {
  return { meta: { bestAccuracy: s.bestAccuracy, bestEpoch: s.bestEpoch }, tensors: new Map(s.bestWeights !== undefined ? [[BEST_WEIGHTS, s.bestWeights]] : []) };
}

function decodeGuard(saved: SavedPart): GuardSnapshot {
  const meta = saved.meta as Omit<GuardSnapshot, 'bestWeights'>;
  const best = saved.tensors.get(BEST_WEIGHTS);
  return { bestAccuracy: meta.bestAccuracy, bestEpoch: meta.bestEpoch, ...(best !== undefined ? { bestWeights: best } : {}) };
}
