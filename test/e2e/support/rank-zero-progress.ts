/** Rank 0's progress JSON (common/contract.ts PROGRESS_PATH), read through the provider. */
import { DEFAULT_METRICS_PORT, PROGRESS_PATH, type ProgressReport } from '../../../common/contract.js';
import type { ClusterProvider } from './provider.js';

/** Rank 0's current report, or undefined while its HTTP server is not answering. */
export async function readRankZeroProgress(provider: ClusterProvider, namespace: string, podName: string): Promise<ProgressReport | undefined> {
  try {
    const value = JSON.parse(await provider.podHttpGet(namespace, podName, DEFAULT_METRICS_PORT, PROGRESS_PATH)) as ProgressReport;
    return typeof value.step === 'number' ? value : undefined;
  } catch {
    // Not listening yet (the worker is loading data) or gone (a gang restart): "no report".
    return undefined;
  }
}
