/**
 * The grace period (seconds between the kubelet's SIGTERM and its SIGKILL)
 * the operator asks for when it deletes worker pods. On SIGTERM a worker stops
 * at its next step boundary with a checkpoint, a boundary every rank of the
 * ring must reach together (worker/train/graceful-stop.ts).
 */
import type { DATJob, DATJobStatus } from './api/types.js';
import { findCondition } from './conditions.js';
import { CONDITION_TYPES, REASONS } from './constants.js';

/**
 * Grace for the pods of a gang being replaced after a failure: its ring is
 * broken, so no rank can save, and a rank blocked on a dead or hung peer
 * would hold the restart for the whole grace period.
 */
export const FAILED_GANG_GRACE_SECONDS = 5;

/**
 * The grace for deleting the stale pods of `job`: undefined (the pods' own,
 * the template's or Kubernetes' 30 s) unless the gang is being replaced after
 * a failure; a preempted gang's ring is whole and saves where it stands.
 */
export function staleGangGraceSeconds(job: DATJob, status: DATJobStatus): number | undefined {
  const restarting = findCondition(status.conditions, CONDITION_TYPES.restarting);
  if (restarting?.status !== 'True' || restarting.reason === REASONS.preempted) return undefined;
  return Math.min(FAILED_GANG_GRACE_SECONDS, job.spec.workers.template?.spec?.terminationGracePeriodSeconds ?? FAILED_GANG_GRACE_SECONDS);
}
