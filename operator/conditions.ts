/** metav1.Condition helpers: pure, so every transition is unit-testable. */
import type { Condition } from './api/types.js';
import { CONDITION_TYPES, type ConditionType } from './constants.js';

/**
 * Conditions that cannot be True together with the key: setting the key True
 * sets these False (with the same reason), so the list never claims both
 * Running and Succeeded (trainer#1711).
 */
const EXCLUSIVE: Readonly<Record<string, readonly ConditionType[]>> = {
  [CONDITION_TYPES.running]: [CONDITION_TYPES.restarting, CONDITION_TYPES.suspended, CONDITION_TYPES.blocked],
  [CONDITION_TYPES.restarting]: [CONDITION_TYPES.running],
  [CONDITION_TYPES.suspended]: [CONDITION_TYPES.running, CONDITION_TYPES.restarting],
  [CONDITION_TYPES.succeeded]: [CONDITION_TYPES.running, CONDITION_TYPES.restarting, CONDITION_TYPES.failed, CONDITION_TYPES.blocked],
  [CONDITION_TYPES.failed]: [CONDITION_TYPES.running, CONDITION_TYPES.restarting, CONDITION_TYPES.succeeded, CONDITION_TYPES.blocked],
};

/** A condition to set; `lastTransitionTime` is filled from `now` when the status flips. */
export interface ConditionInput {
  readonly type: string;
  readonly status: Condition['status'];
  readonly reason: string;
  readonly message: string;
}

/** Finds a condition by type. */
export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/** True when the condition of `type` exists with status True. */
export function isConditionTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === 'True';
}

/**
 * Sets `cond` in `list` (mutating it) and reports whether anything changed.
 * Keeps `lastTransitionTime` when the status does not flip; when `cond` is True,
 * sets the mutually exclusive conditions that are True to False.
 */
export function setCondition(list: Condition[], cond: ConditionInput, now: Date): boolean {
  let changed = upsert(list, cond, now.toISOString());
  if (cond.status === 'True') {
    for (const other of EXCLUSIVE[cond.type] ?? []) {
      if (isConditionTrue(list, other)) {
        changed = upsert(list, { type: other, status: 'False', reason: cond.reason, message: cond.message }, now.toISOString()) || changed;
      }
    }
  }
  return changed;
}

function upsert(list: Condition[], cond: ConditionInput, nowIso: string): boolean {
  const i = list.findIndex((c) => c.type === cond.type);
  if (i < 0) {
    list.push({ ...cond, lastTransitionTime: nowIso });
    return true;
  }
  const old = list[i]!;
  if (old.status === cond.status && old.reason === cond.reason && old.message === cond.message) return false;
  const lastTransitionTime = old.status === cond.status ? old.lastTransitionTime : nowIso;
  list[i] = { type: cond.type, status: cond.status, reason: cond.reason, message: cond.message, lastTransitionTime };
  return true;
}
