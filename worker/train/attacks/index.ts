/**
 * Adversarial attacks, one per file. Each is synchronous, wrapped in
 * `tf.tidy`, runs the model with `training: false`, and validates its
 * arguments by name.
 */
import type { AttackId } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import type { AttackParamName } from './_common.js';
import { fgsmAttack, FGSM_PARAMS, validateFgsmParams } from './fgsm-attack.js';
import { fgsmRsAttack, FGSM_RS_PARAMS, validateFgsmRsParams } from './fgsm-rs-attack.js';
import { pgdAttack, PGD_PARAMS, validatePgdParams } from './pgd-attack.js';
import { pgdL2Attack, PGD_L2_PARAMS, validatePgdL2Params } from './pgd-l2-attack.js';
import { tradesAttack, TRADES_PARAMS, validateTradesParams } from './trades-attack.js';
import type { AttackFn, AttackParams } from './types.js';

export type { AttackFn, AttackParams } from './types.js';
export type { AttackParamName } from './_common.js';
export { fgsmAttack, fgsmRsAttack, pgdAttack, pgdL2Attack, tradesAttack };

interface AttackEntry {
  readonly run: AttackFn;
  readonly validate: (p: AttackParams) => void;
  /** The {@link AttackParams} fields the attack reads. */
  readonly params: readonly AttackParamName[];
}

const ATTACKS: Record<Exclude<AttackId, 'none'>, AttackEntry> = {
  fgsm: { run: fgsmAttack, validate: validateFgsmParams, params: FGSM_PARAMS },
  'fgsm-rs': { run: fgsmRsAttack, validate: validateFgsmRsParams, params: FGSM_RS_PARAMS },
  pgd: { run: pgdAttack, validate: validatePgdParams, params: PGD_PARAMS },
  'pgd-l2': { run: pgdL2Attack, validate: validatePgdL2Params, params: PGD_L2_PARAMS },
  trades: { run: tradesAttack, validate: validateTradesParams, params: TRADES_PARAMS },
};

function lookup(id: AttackId): AttackEntry | undefined {
  if (id === 'none') return undefined;
  const entry = ATTACKS[id];
  if (entry === undefined) throw new ConfigError(`unknown attack ${String(id)}; expected none or one of ${Object.keys(ATTACKS).join(', ')}`);
  return entry;
}

/** The attack function for `id`; undefined for `none` (train and evaluate on clean inputs). */
export function getAttack(id: AttackId): AttackFn | undefined {
  return lookup(id)?.run;
}

/** The parameters attack `id` reads (empty for `none`); the others are ignored. */
export function attackParamNames(id: AttackId): readonly AttackParamName[] {
  return lookup(id)?.params ?? [];
}

/**
 * Checks the parameters attack `id` reads; throws a ConfigError naming the
 * attack and the argument (e.g. `attack pgd: steps must be an integer >= 1, got 0`).
 * `none` accepts anything.
 */
export function validateAttackParams(id: AttackId, p: AttackParams): void {
  lookup(id)?.validate(p);
}
