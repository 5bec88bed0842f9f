/**
 * The optimizer update as one graph: every variable's new value and new
 * state slots from its value, gradient and slots, for each update rule of
 * worker/train/optimizers/. Each rule is emitted op for op as its eager
 * `update` runs it (the same constants as float32, the same operation
 * order), so the results are the eager ones.
 *
 * Why: eagerly, an update is 15–35 kernel calls per variable, each a round
 * trip through tfjs and the binding; as one graph it is one call. Pure: it
 * returns the encoded SavedModel.
 */
import { ruleSlotKinds, type UpdateRule } from '../../../train/optimizers/types.js';
import { GraphBuilder } from './graph-def.js';

const F32 = { type: 'float32' } as const;

/** Input and output names of the update graph. */
export const UPDATE_GRAPH = {
  lr: 'lr',
  /** Adam's bias corrections 1 − β1ᵗ and 1 − β2ᵗ, computed by the caller as the eager code does. */
  bias1: 'bias1',
  bias2: 'bias2',
} as const;

/** Names of variable `i`'s inputs and outputs; `slot` is a kind of ruleSlotKinds. */
export const updateNames = {
  weight: (i: number): string => `w_${i}`,
  grad: (i: number): string => `g_${i}`,
  slot: (kind: string, i: number): string => `${kind}_${i}`,
  newWeight: (i: number): string => `new_w_${i}`,
  newSlot: (kind: string, i: number): string => `new_${kind}_${i}`,
};

/** The scalar inputs a rule's graph takes, in feed order. */
export function updateScalarInputs(rule: UpdateRule): string[] {
  return rule.kind === 'adam' ? [UPDATE_GRAPH.lr, UPDATE_GRAPH.bias1, UPDATE_GRAPH.bias2] : [UPDATE_GRAPH.lr];
}

/** Builds the update graph for `numVars` variables (shapes come with the inputs). */
export function buildUpdateGraph(rule: UpdateRule, numVars: number): Uint8Array {
  if (!Number.isInteger(numVars) || numVars < 1) throw new Error(`update graph: numVars must be an integer >= 1, got ${numVars}`);
  const g = new GraphBuilder();
  const scalars = Object.fromEntries(updateScalarInputs(rule).map((name) => [name, g.placeholder(name, 'float32', [])]));
  const kinds = ruleSlotKinds(rule);
  for (let i = 0; i < numVars; i++) {
    const w = g.add('Placeholder', [], { dtype: F32 }, updateNames.weight(i));
    const grad = g.add('Placeholder', [], { dtype: F32 }, updateNames.grad(i));
    const slots = Object.fromEntries(kinds.map((k) => [k, g.add('Placeholder', [], { dtype: F32 }, updateNames.slot(k, i))]));
    const out = emitRule(new Ops(g), rule, { w, g: grad, slots, lr: scalars[UPDATE_GRAPH.lr]!, bias1: scalars[UPDATE_GRAPH.bias1], bias2: scalars[UPDATE_GRAPH.bias2] });
    g.add('Identity', [out.w], { T: F32 }, updateNames.newWeight(i));
    for (const k of kinds) g.add('Identity', [out.slots[k]!], { T: F32 }, updateNames.newSlot(k, i));
  }
  return g.encodeSavedModel();
}

/** The tfjs ops the eager rules use, as graph nodes. */
class Ops {
  constructor(private readonly g: GraphBuilder) {}
  private bin(op: string, a: string, b: string): string {
    return this.g.add(op, [a, b], { T: F32 });
  }
  private un(op: string, a: string): string {
    return this.g.add(op, [a], { T: F32 });
  }
  c(v: number): string {
    return this.g.scalar(v);
  }
  add(a: string, b: string): string {
    return this.bin('AddV2', a, b);
  }
  sub(a: string, b: string): string {
    return this.bin('Sub', a, b);
  }
  mul(a: string, b: string): string {
    return this.bin('Mul', a, b);
  }
  div(a: string, b: string): string {
    return this.bin('RealDiv', a, b);
  }
  square(a: string): string {
    return this.un('Square', a);
  }
  sqrt(a: string): string {
    return this.un('Sqrt', a);
  }
  onesLike(a: string): string {
    return this.un('OnesLike', a);
  }
  /** ‖t‖₂ as _slots.ts's l2Norm: sqrt(sum(square(t))) over every element. */
  l2Norm(t: string): string {
    const flat = this.g.add('Reshape', [this.square(t), this.g.int32s([-1])], { T: F32, Tshape: { type: 'int32' } });
    return this.sqrt(this.g.add('Sum', [flat, this.g.int32s([0])], { T: F32, Tidx: { type: 'int32' }, keep_dims: { b: false } }));
  }
  clip(a: string, lo: number, hi: number): string {
    return this.g.add('ClipByValue', [a, this.c(lo), this.c(hi)], { T: F32 });
  }
  /** a > 0 && b > 0 (scalars). */
  bothPositive(a: string, b: string): string {
    const gt = (t: string): string => this.g.add('Greater', [t, this.c(0)], { T: F32 });
    return this.g.add('LogicalAnd', [gt(a), gt(b)]);
  }
  where(cond: string, a: string, b: string): string {
    return this.g.add('SelectV2', [cond, a, b], { T: F32 });
  }
}

interface RuleInputs {
  readonly w: string;
  readonly g: string;
  readonly slots: Readonly<Record<string, string>>;
  readonly lr: string;
  readonly bias1: string | undefined;
  readonly bias2: string | undefined;
}

/** One variable's update; mirrors the `update` method of the rule's optimizer file, step by step. */
function emitRule(o: Ops, rule: UpdateRule, x: RuleInputs): { w: string; slots: Record<string, string> } {
  switch (rule.kind) {
    case 'sgd': {
      const decayed = rule.weightDecay === 0 ? x.g : o.add(x.g, o.mul(o.c(rule.weightDecay), x.w));
      if (rule.momentum === 0) return { w: o.sub(x.w, o.mul(x.lr, decayed)), slots: {} };
      const buf = o.add(o.mul(o.c(rule.momentum), x.slots.momentum!), decayed);
      return { w: o.sub(x.w, o.mul(x.lr, buf)), slots: { momentum: buf } };
    }
    case 'lars': {
      const wNorm = o.l2Norm(x.w);
      const gNorm = o.l2Norm(x.g);
      const raw = o.div(o.mul(o.c(rule.trustCoefficient), wNorm), o.add(o.add(gNorm, o.mul(o.c(rule.weightDecay), wNorm)), o.c(rule.epsilon)));
      const trust = o.where(o.bothPositive(wNorm, gNorm), raw, o.onesLike(raw));
      const adapted = o.mul(rule.weightDecay === 0 ? x.g : o.add(x.g, o.mul(o.c(rule.weightDecay), x.w)), trust);
      if (rule.momentum === 0) return { w: o.sub(x.w, o.mul(x.lr, adapted)), slots: {} };
      const buf = o.add(o.mul(o.c(rule.momentum), x.slots.momentum!), adapted);
      return { w: o.sub(x.w, o.mul(x.lr, buf)), slots: { momentum: buf } };
    }
    case 'adam': {
      if (x.bias1 === undefined || x.bias2 === undefined) throw new Error('update graph: adam needs its bias-correction inputs');
      const decayed = rule.weightDecay === 0 ? x.g : o.add(x.g, o.mul(o.c(rule.weightDecay), x.w));
      const { m, v } = moments(o, rule, x.slots, decayed);
      const mHat = o.div(m, x.bias1);
      const vHat = o.div(v, x.bias2);
      return { w: o.sub(x.w, o.mul(x.lr, o.div(mHat, o.add(o.sqrt(vHat), o.c(rule.epsilon))))), slots: { m, v } };
    }
    case 'lamb': {
      const { m, v } = moments(o, rule, x.slots, x.g);
      let u = o.div(m, o.add(o.sqrt(v), o.c(rule.epsilon)));
      if (rule.weightDecay !== 0) u = o.add(u, o.mul(o.c(rule.weightDecay), x.w));
      const wNorm = o.clip(o.l2Norm(x.w), 0, rule.weightNormCap);
      const uNorm = o.l2Norm(u);
      const usable = o.bothPositive(wNorm, uNorm);
      const trust = o.where(usable, o.div(wNorm, o.where(usable, uNorm, o.onesLike(uNorm))), o.onesLike(wNorm));
      return { w: o.sub(x.w, o.mul(o.mul(x.lr, trust), u)), slots: { m, v } };
    }
  }
}

/** m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g² (Adam's and LAMB's step). */
function moments(o: Ops, rule: { readonly beta1: number; readonly beta2: number }, slots: Readonly<Record<string, string>>, g: string): { m: string; v: string } {
  const m = o.add(o.mul(o.c(rule.beta1), slots.m!), o.mul(o.c(1 - rule.beta1), g));
  const v = o.add(o.mul(o.c(rule.beta2), slots.v!), o.mul(o.c(1 - rule.beta2), o.square(g)));
  return { m, v };
}
