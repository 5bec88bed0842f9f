/** Reading a worker's {@link ProgressReport} from untrusted JSON (HTTP body or termination message). */
import type { V1Pod } from '@kubernetes/client-node';
import type { FinalEvaluationReport, ProgressReport } from '../common/contract.js';

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** A final evaluation block with the fields the status copies, each of its type; undefined otherwise. */
export function parseFinalEvaluation(value: unknown): FinalEvaluationReport | undefined {
  if (!isRecord(value)) return undefined;
  const { attacks, perAttack } = value;
  if (!['eps', 'examples', 'cleanAccuracy', 'robustAccuracy', 'seconds'].every((k) => isNumber(value[k]))) return undefined;
  if (!Array.isArray(attacks) || !attacks.every((a) => typeof a === 'string')) return undefined;
  if (!Array.isArray(perAttack) || !perAttack.every((p) => isRecord(p) && typeof p.attack === 'string' && isNumber(p.robustAccuracy))) return undefined;
  return value as unknown as FinalEvaluationReport;
}

/**
 * Validates the shape of a progress report (numbers where numbers belong).
 * A malformed final evaluation is dropped, not the whole report: the
 * training progress it came with is still good.
 */
export function parseProgressReport(value: unknown): ProgressReport | undefined {
  if (!isRecord(value)) return undefined;
  const nums = ['epoch', 'totalEpochs', 'step', 'totalSteps'] as const;
  if (!nums.every((k) => typeof value[k] === 'number')) return undefined;
  if (value.finalEvaluation === undefined || parseFinalEvaluation(value.finalEvaluation) !== undefined) return value as unknown as ProgressReport;
  const { finalEvaluation: _dropped, ...rest } = value;
  return rest as unknown as ProgressReport;
}

/**
 * The final report a worker left in its termination message
 * (`/dev/termination-log`), so the last evaluation reaches the status even
 * though the process, and its /progress endpoint, are gone.
 */
export function readTerminationReport(pod: V1Pod | undefined): ProgressReport | undefined {
  for (const s of pod?.status?.containerStatuses ?? []) {
    const message = s.state?.terminated?.message;
    if (message === undefined || message === '') continue;
    try {
      return parseProgressReport(JSON.parse(message));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
