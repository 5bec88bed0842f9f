/**
 * The arithmetic of every update rule, written once against {@link NumOps}:
 * the eager optimizers (eager-ops.ts through the eager step engine) and the
 * compiled update graph (native/graph/optimizer-graph.ts) both run these
 * functions, so the two cannot drift apart. The math of each rule, with its
 * numbered steps, is documented in the rule's optimizer file (sgd.ts,
 * lars.ts, adam.ts, lamb.ts).
 *
 * Pure: one variable's new value and new state from its value, gradient,
 * state and the scalars of this update.
 */
import type { NumOps } from '../numerics/num-ops.js';
import type { RuleOf, UpdateRule } from './types.js';

/**
 * The per-update scalars of a rule, by name: the learning rate, Adam's bias
 * corrections 1 − β1ᵗ and 1 − β2ᵗ, and, for a LAMB whose second moment
 * freezes, v's decay and gain (β2 and 1 − β2, then 1 and 0). Computed in
 * double by {@link ruleScalars}, then fed as float32 scalars (eager tensors
 * or graph inputs), so both notations round them the same way.
 */
export interface RuleScalars<T> {
  readonly lr: T;
  readonly bias1?: T;
  readonly bias2?: T;
  readonly vDecay?: T;
  readonly vGain?: T;
}

/** The scalars a rule's update takes, in feed order. */
export function ruleScalarNames(rule: UpdateRule): (keyof RuleScalars<unknown>)[] {
  if (rule.kind === 'adam') return ['lr', 'bias1', 'bias2'];
  if (rule.kind === 'lamb' && rule.freezeSecondMomentAfter !== undefined) return ['lr', 'vDecay', 'vGain'];
  return ['lr'];
}

/** The scalars of `rule` as `make` builds each (graph placeholders, eager tensors), made in feed order. */
export function ruleScalarInputs<T>(rule: UpdateRule, make: (name: keyof RuleScalars<unknown>) => T): RuleScalars<T> {
  const out: { -readonly [K in keyof RuleScalars<T>]: T } = { lr: make('lr') };
  // ruleScalarNames always starts with lr, made above.
  for (const name of ruleScalarNames(rule).slice(1)) out[name] = make(name);
  return out;
}

/** The values of {@link ruleScalarNames} for update number `step` (1-based) at learning rate `lr`. */
export function ruleScalars(rule: UpdateRule, step: number, lr: number): RuleScalars<number> {
  if (rule.kind === 'adam') return { lr, bias1: 1 - rule.beta1 ** step, bias2: 1 - rule.beta2 ** step };
  if (rule.kind === 'lamb' && rule.freezeSecondMomentAfter !== undefined) {
    const frozen = step > rule.freezeSecondMomentAfter;
    return { lr, vDecay: frozen ? 1 : rule.beta2, vGain: frozen ? 0 : 1 - rule.beta2 };
  }
  return { lr };
}

/** One variable's inputs to its update. */
export interface RuleInputs<T> extends RuleScalars<T> {
  readonly w: T;
  readonly g: T;
  /** The variable's state by slot kind (ruleSlotKinds(rule)). */
  readonly slots: Readonly<Record<string, T>>;
}

/** One variable's new value and new state by slot kind. */
export interface RuleOutputs<T> {
  readonly w: T;
  readonly slots: Record<string, T>;
}

/** Applies `rule` to one variable; see the module comment. */
export function applyUpdateRule<T>(o: NumOps<T>, rule: UpdateRule, x: RuleInputs<T>): RuleOutputs<T> {
  switch (rule.kind) {
    case 'sgd':
      return sgdUpdate(o, rule, x);
    case 'lars':
      return larsUpdate(o, rule, x);
    case 'adam':
      return adamUpdate(o, rule, x);
    case 'lamb':
      return lambUpdate(o, rule, x);
  }
}

/** g + wd·w, or g itself without weight decay (an op fewer). */
function decayed<T>(o: NumOps<T>, weightDecay: number, x: RuleInputs<T>): T {
  return weightDecay === 0 ? x.g : o.add(x.g, o.mul(o.scalar(weightDecay), x.w));
}

/** buf ← momentum·buf + d, then w ← w − lr·buf (or w − lr·d without momentum): SGD's and LARS' last steps. */
function momentumStep<T>(o: NumOps<T>, momentum: number, x: RuleInputs<T>, d: T): RuleOutputs<T> {
  if (momentum === 0) return { w: o.sub(x.w, o.mul(x.lr, d)), slots: {} };
  const buf = o.add(o.mul(o.scalar(momentum), x.slots.momentum!), d);
  return { w: o.sub(x.w, o.mul(x.lr, buf)), slots: { momentum: buf } };
}

/**
 * m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g² (Adam's and LAMB's moments).
 * A frozen v is v ← 1·v + 0·g², fed as the scalars vDecay and vGain.
 */
function moments<T>(o: NumOps<T>, rule: { readonly beta1: number; readonly beta2: number }, x: RuleInputs<T>, g: T): { m: T; v: T } {
  const m = o.add(o.mul(o.scalar(rule.beta1), x.slots.m!), o.mul(o.scalar(1 - rule.beta1), g));
  const v = o.add(o.mul(x.vDecay ?? o.scalar(rule.beta2), x.slots.v!), o.mul(x.vGain ?? o.scalar(1 - rule.beta2), o.square(g)));
  return { m, v };
}

/** a > 0 && b > 0 (scalars): a trust ratio is usable. */
function bothPositive<T>(o: NumOps<T>, a: T, b: T): T {
  return o.logicalAnd(o.greater(a, o.scalar(0)), o.greater(b, o.scalar(0)));
}

/** sgd.ts, steps 1–3. */
function sgdUpdate<T>(o: NumOps<T>, rule: RuleOf<'sgd'>, x: RuleInputs<T>): RuleOutputs<T> {
  return momentumStep(o, rule.momentum, x, decayed(o, rule.weightDecay, x));
}

/** lars.ts, steps 1–4. */
function larsUpdate<T>(o: NumOps<T>, rule: RuleOf<'lars'>, x: RuleInputs<T>): RuleOutputs<T> {
  // Step 1
  const wNorm = o.l2Norm(x.w);
  const gNorm = o.l2Norm(x.g);
  const raw = o.div(o.mul(o.scalar(rule.trustCoefficient), wNorm), o.add(o.add(gNorm, o.mul(o.scalar(rule.weightDecay), wNorm)), o.scalar(rule.epsilon)));
  const trust = o.where(bothPositive(o, wNorm, gNorm), raw, o.onesLike(raw));
  // Step 2
  const adapted = o.mul(decayed(o, rule.weightDecay, x), trust);
  // Steps 3 and 4
  return momentumStep(o, rule.momentum, x, adapted);
}

/** adam.ts, steps 1–3. */
function adamUpdate<T>(o: NumOps<T>, rule: RuleOf<'adam'>, x: RuleInputs<T>): RuleOutputs<T> {
  if (x.bias1 === undefined || x.bias2 === undefined) throw new Error('update rule adam: needs its bias corrections bias1 and bias2');
  // Step 1
  const g = decayed(o, rule.weightDecay, x);
  // Step 2
  const { m, v } = moments(o, rule, x, g);
  // Step 3
  const mHat = o.div(m, x.bias1);
  const vHat = o.div(v, x.bias2);
  return { w: o.sub(x.w, o.mul(x.lr, o.div(mHat, o.add(o.sqrt(vHat), o.scalar(rule.epsilon))))), slots: { m, v } };
}

/** lamb.ts, steps 1–4. */
function lambUpdate<T>(o: NumOps<T>, rule: RuleOf<'lamb'>, x: RuleInputs<T>): RuleOutputs<T> {
  // Step 1
  const { m, v } = moments(o, rule, x, x.g);
  // Step 2
  let u = o.div(m, o.add(o.sqrt(v), o.scalar(rule.epsilon)));
  if (rule.weightDecay !== 0) u = o.add(u, o.mul(o.scalar(rule.weightDecay), x.w));
  // Step 3: stays on the device (no data sync); `where` picks 1 for a zero norm.
  const wNorm = o.clip(o.l2Norm(x.w), 0, rule.weightNormCap);
  const uNorm = o.l2Norm(u);
  const usable = bothPositive(o, wNorm, uNorm);
  const trust = o.where(usable, o.div(wNorm, o.where(usable, uNorm, o.onesLike(uNorm))), o.onesLike(wNorm));
  // Step 4
  return { w: o.sub(x.w, o.mul(o.mul(x.lr, trust), u)), slots: { m, v } };
}
