/**
 * The optimizer update as one graph: every variable's new value and new
 * state slots from its value, gradient and slots, for each update rule of
 * worker/train/optimizers/. The rule is the eager one: update-rules.ts's
 * single definition, lowered to graph nodes (graph-ops.ts), so the graph
 * computes the eager update op for op (the same float32 constants, the same
 * operation order).
 *
 * Why: eagerly, an update is 15–35 kernel calls per variable, each a round
 * trip through tfjs and the binding; as one graph it is one call. Pure: it
 * returns the encoded SavedModel.
 */
import { ruleSlotKinds, type UpdateRule } from '../../../train/optimizers/types.js';
import { applyUpdateRule, ruleScalarInputs } from '../../../train/optimizers/update-rules.js';
import { GraphBuilder } from './graph-def.js';
import { GraphOps } from './graph-ops.js';

const F32 = { type: 'float32' } as const;

/** Names of variable `i`'s inputs and outputs; `slot` is a kind of ruleSlotKinds. */
export const updateNames = {
  weight: (i: number): string => `w_${i}`,
  grad: (i: number): string => `g_${i}`,
  slot: (kind: string, i: number): string => `${kind}_${i}`,
  newWeight: (i: number): string => `new_w_${i}`,
  newSlot: (kind: string, i: number): string => `new_${kind}_${i}`,
};

/** Builds the update graph for `numVars` variables (shapes come with the inputs). */
export function buildUpdateGraph(rule: UpdateRule, numVars: number): Uint8Array {
  if (!Number.isInteger(numVars) || numVars < 1) throw new Error(`update graph: numVars must be an integer >= 1, got ${numVars}`);
  const g = new GraphBuilder();
  // The scalar inputs come first, named and ordered as update-rules.ts's ruleScalarNames.
  const scalars = ruleScalarInputs(rule, (name) => g.placeholder(name, 'float32', []));
  const kinds = ruleSlotKinds(rule);
  const ops = new GraphOps(g);
  for (let i = 0; i < numVars; i++) {
    const w = g.add('Placeholder', [], { dtype: F32 }, updateNames.weight(i));
    const grad = g.add('Placeholder', [], { dtype: F32 }, updateNames.grad(i));
    const slots = Object.fromEntries(kinds.map((k) => [k, g.add('Placeholder', [], { dtype: F32 }, updateNames.slot(k, i))]));
    const out = applyUpdateRule(ops, rule, { w, g: grad, slots, ...scalars });
    g.add('Identity', [out.w], { T: F32 }, updateNames.newWeight(i));
    for (const k of kinds) g.add('Identity', [out.slots[k]!], { T: F32 }, updateNames.newSlot(k, i));
  }
  return g.encodeSavedModel();
}
