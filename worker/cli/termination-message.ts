/**
 * The worker's one-line fatal error, left where Kubernetes reads a
 * container's termination message (`/dev/termination-log`, which the kubelet
 * creates in every container), so the operator can put the cause, not just
 * the exit code, in the DATJob's Failed condition and events. Outside a pod
 * the file does not exist and nothing is written.
 */
import { existsSync, writeFileSync } from 'node:fs';

/** Where the kubelet looks by default (a pod's terminationMessagePath). */
export const TERMINATION_LOG = '/dev/termination-log';
/** Overrides the path (tests). */
export const TERMINATION_LOG_ENV = 'DAT_TERMINATION_LOG';
/** The kubelet keeps at most 4096 bytes of a termination message. */
const MAX_BYTES = 4096;

/** Writes `message` as the termination message when the file exists; never throws (best effort). */
export function writeTerminationMessage(message: string, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const path = env[TERMINATION_LOG_ENV] ?? TERMINATION_LOG;
  if (!existsSync(path)) return false;
  try {
    writeFileSync(path, Buffer.from(message, 'utf8').subarray(0, MAX_BYTES));
    return true;
  } catch {
    return false;
  }
}
