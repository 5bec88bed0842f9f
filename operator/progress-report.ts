/** Reading a worker's {@link ProgressReport} from untrusted JSON (HTTP body or termination message). */
import type { V1Pod } from '@kubernetes/client-node';
import type { ProgressReport } from '../common/contract.js';

/** Validates the shape of a progress report (numbers where numbers belong). */
export function parseProgressReport(value: unknown): ProgressReport | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const nums = ['epoch', 'totalEpochs', 'step', 'totalSteps'] as const;
  if (!nums.every((k) => typeof v[k] === 'number')) return undefined;
  return value as ProgressReport;
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
