/** The optimizer's state (step count and slots such as Adam's m and v) as a checkpoint part. */
import type { OptimizerId } from '../../../common/contract.js';
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import type { Optimizer, OptimizerState } from '../optimizers/index.js';

export const OPTIMIZER_PART = 'optimizer';

/** The JSON of the optimizer part; each slot's values are the tensor of the same name. */
export interface OptimizerMeta {
  readonly id: OptimizerId;
  readonly step: number;
  readonly slots: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

export function createOptimizerPart(optimizer: Optimizer): CheckpointPart {
  return {
    key: OPTIMIZER_PART,
    scope: PART_SCOPES.run,
    required: true,
    save: () => encodeOptimizerState(optimizer.getState()),
    check: checkOptimizer,
    load: (saved) => optimizer.setState(decodeOptimizerState(saved)),
  };
}

export function encodeOptimizerState(s: OptimizerState): SavedPart {
  const meta: OptimizerMeta = { id: s.id, step: s.step, slots: s.slots.map((slot) => ({ name: slot.name, shape: [...slot.shape] })) };
  return { meta, tensors: new Map(s.slots.map((slot) => [slot.name, slot.values])) };
}

export function decodeOptimizerState(saved: SavedPart): OptimizerState {
  const meta = saved.meta as OptimizerMeta;
  return { id: meta.id, step: meta.step, slots: meta.slots.map((s) => ({ name: s.name, shape: s.shape, values: saved.tensors.get(s.name)! })) };
}

function checkOptimizer(saved: SavedPart): string | undefined {
  const meta = saved.meta as Partial<OptimizerMeta> | undefined;
  if (meta === null || typeof meta !== 'object' || typeof meta.id !== 'string' || !Array.isArray(meta.slots)) return 'the optimizer state is missing';
  for (const slot of meta.slots as OptimizerMeta['slots']) {
    if (slot === null || typeof slot !== 'object' || typeof slot.name !== 'string' || !Array.isArray(slot.shape)) return 'an optimizer slot is malformed';
    const values = saved.tensors.get(slot.name);
    if (values === undefined) return `optimizer slot ${slot.name} is missing`;
    const size = slot.shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) return `optimizer slot ${slot.name} holds ${values.length} values for shape [${slot.shape.join(',')}]`;
  }
  return undefined;
}
