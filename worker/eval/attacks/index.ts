/** The `dat eval` attacks by name. */
import { pgdAttack } from '../../train/attacks/pgd-attack.js';
import { defaultEvalStepSize } from '../../train/evaluate.js';
import { apgdCeAttack } from './apgd-ce-attack.js';
import { apgdTAttack } from './apgd-t-attack.js';
import { fabTAttack } from './fab-t-attack.js';
import { squareAttack, type SquareOptions } from './square-attack.js';
import type { EvalAttackFn, EvalAttackName } from './types.js';

export { AUTOATTACK_STANDARD, EVAL_ATTACK_NAMES, type EvalAttackFn, type EvalAttackName } from './types.js';
export { apgdCeAttack, apgdTAttack, fabTAttack, squareAttack };

/** Iterations of the `pgd` entry: the PGD-20 that `dat train` and bench:accuracy report. */
export const PGD_EVAL_STEPS = 20;

/** Hooks an attack may report progress through. */
export interface AttackHooks {
  readonly onSquareQuery?: SquareOptions['onQuery'];
}

/** The attack function of `name` with its standard settings. */
export function evalAttackFn(name: EvalAttackName, hooks: AttackHooks = {}): EvalAttackFn {
  switch (name) {
    case 'pgd':
      // The training attack, synchronous: 20 iterations, one block of the event loop per batch.
      return async (model, x, y, eps, seed) =>
        pgdAttack(model, x, y, { eps, steps: PGD_EVAL_STEPS, stepSize: defaultEvalStepSize(eps, PGD_EVAL_STEPS), restarts: 1, randomStart: true, seed: seed || 1 });
    case 'apgd-ce':
      return (model, x, y, eps, seed) => apgdCeAttack(model, x, y, eps, seed);
    case 'apgd-t':
      return (model, x, y, eps, seed) => apgdTAttack(model, x, y, eps, seed);
    case 'fab-t':
      return (model, x, y, eps, seed) => fabTAttack(model, x, y, eps, seed);
    case 'square':
      return (model, x, y, eps, seed) => squareAttack(model, x, y, eps, seed, { onQuery: hooks.onSquareQuery });
  }
}
