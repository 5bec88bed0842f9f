/**
 * The base of every optimizer here: named per-variable state tensors
 * ("slots"), created lazily, saved and restored by name, and the argument
 * checks of `apply`.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerId } from '../../../common/contract.js';
import { ConfigError, DatError } from '../../../common/errors.js';
import type { OptimizerUpdater } from '../compiled-step.js';
import { eagerStepEngine } from '../step-engine.js';
import { ruleSlotKinds, type Optimizer, type OptimizerHyper, type OptimizerSlot, type OptimizerState, type UpdateRule } from './types.js';

/** Checks a hyperparameter; throws a ConfigError naming the optimizer and the argument. */
export function checkHyper(id: OptimizerId, name: string, v: number, min: number, maxExclusive = Infinity): number {
  if (!Number.isFinite(v) || v < min || v >= maxExclusive) {
    const range = maxExclusive === Infinity ? `>= ${min}` : `in [${min}, ${maxExclusive})`;
    throw new ConfigError(`optimizer ${id}: ${name} must be a finite number ${range}, got ${v}`);
  }
  return v;
}

/** The checked hyperparameters Adam and LAMB share (β1, β2 default 0.9 and 0.999; ε defaults per optimizer). */
export function momentHypers(id: 'adam' | 'lamb', hyper: OptimizerHyper, defaultEpsilon: number): { beta1: number; beta2: number; epsilon: number; weightDecay: number } {
  return {
    beta1: checkHyper(id, 'beta1', hyper.beta1 ?? 0.9, 0, 1),
    beta2: checkHyper(id, 'beta2', hyper.beta2 ?? 0.999, 0, 1),
    epsilon: checkHyper(id, 'epsilon', hyper.epsilon ?? defaultEpsilon, 0),
    weightDecay: checkHyper(id, 'weightDecay', hyper.weightDecay, 0),
  };
}

/**
 * Shared state handling and the update's plumbing; subclasses hold the
 * checked rule, whose arithmetic is update-rules.ts.
 */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly id: OptimizerId;
  abstract readonly rule: UpdateRule;
  /** Slot kinds, e.g. ['m', 'v']; slot `m/i` belongs to variable i. */
  protected abstract readonly slotKinds: readonly string[];
  protected step = 0;
  private slots = new Map<string, tf.Variable>();

  /** Slot `kind` of variable `i`, zero-initialized on first use. */
  protected slot(kind: string, i: number, like: tf.Tensor): tf.Variable {
    const name = `${kind}/${i}`;
    let s = this.slots.get(name);
    if (s === undefined) {
      s = tf.variable(tf.zerosLike(like), false);
      this.slots.set(name, s);
    } else if (!tf.util.arraysEqual(s.shape, like.shape)) {
      throw new DatError(`optimizer ${this.id}: state ${name} has shape [${s.shape.join(', ')}] but variable ${i} has [${like.shape.join(', ')}]`, { retryable: false });
    }
    return s;
  }

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number, updater: OptimizerUpdater = eagerStepEngine): void {
    if (vars.length !== grads.length) throw new DatError(`optimizer ${this.id}: ${vars.length} variables but ${grads.length} gradients`, { retryable: false });
    if (!Number.isFinite(lr) || lr < 0) throw new DatError(`optimizer ${this.id}: lr must be a finite number >= 0, got ${lr}`, { retryable: false });
    for (let i = 0; i < vars.length; i++) {
      if (!tf.util.arraysEqual(vars[i]!.shape, grads[i]!.shape)) {
        throw new DatError(`optimizer ${this.id}: gradient ${i} has shape [${grads[i]!.shape.join(', ')}] but its variable has [${vars[i]!.shape.join(', ')}]`, {
          retryable: false,
        });
      }
    }
    this.step++;
    const step = this.step;
    // In a tidy: a slot's first zeros and the update's results are temporaries (assign keeps its own reference).
    tf.tidy(() => this.applyUpdate(vars, grads, lr, step, updater));
  }

  /** The whole update through `updater`; call inside a tidy. */
  private applyUpdate(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number, step: number, updater: OptimizerUpdater): void {
    const kinds = ruleSlotKinds(this.rule);
    // Created variable by variable, as the eager update does, so saved state lists slots in one order.
    const slots: tf.Variable[][] = kinds.map(() => []);
    for (let i = 0; i < vars.length; i++) kinds.forEach((kind, k) => slots[k]!.push(this.slot(kind, i, vars[i]!)));
    const out = updater.optimizerUpdate({ rule: this.rule, step, lr, vars, grads, slots });
    if (out.vars.length !== vars.length || out.slots.length !== kinds.length || out.slots.some((s) => s.length !== vars.length)) {
      throw new DatError(`optimizer ${this.id}: the compiled update returned ${out.vars.length} variables and ${out.slots.length} slot kinds for ${vars.length} and ${kinds.length}`, {
        retryable: false,
      });
    }
    for (let i = 0; i < vars.length; i++) vars[i]!.assign(out.vars[i]!);
    for (let k = 0; k < kinds.length; k++) for (let i = 0; i < vars.length; i++) slots[k]![i]!.assign(out.slots[k]![i]!);
  }

  getState(): OptimizerState {
    const slots: OptimizerSlot[] = [];
    for (const [name, v] of this.slots) slots.push({ name, shape: [...v.shape], values: Float32Array.from(v.dataSync()) });
    return { id: this.id, step: this.step, slots };
  }

  setState(s: OptimizerState): void {
    if (s.id !== this.id) throw new ConfigError(`optimizer ${this.id}: cannot restore state saved by optimizer ${s.id}`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new DatError(`optimizer ${this.id}: state step must be an integer >= 0, got ${s.step}`, { retryable: false });
    for (const slot of s.slots) {
      const kind = slot.name.split('/')[0] ?? '';
      const size = slot.shape.reduce((a, d) => a * d, 1);
      if (!this.slotKinds.includes(kind) || !/^[^/]+\/\d+$/.test(slot.name)) {
        throw new DatError(`optimizer ${this.id}: unknown state slot ${slot.name}`, { retryable: false });
      }
      if (size !== slot.values.length) {
        throw new DatError(`optimizer ${this.id}: state slot ${slot.name} has ${slot.values.length} values for shape [${slot.shape.join(', ')}]`, { retryable: false });
      }
    }
    this.dispose();
    this.step = s.step;
    for (const slot of s.slots) {
      this.slots.set(slot.name, tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(slot.values), [...slot.shape], 'float32'), false)));
    }
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots = new Map();
  }
}
