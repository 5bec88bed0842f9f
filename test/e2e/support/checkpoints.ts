/**
 * What the checkpoint volume holds, read through the provider's
 * {@link VolumeReader}: the checkpoint layout of
 * worker/checkpoint/checkpoint-store.ts (`step-<n>/rank-<r>.manifest.json`)
 * and the run's output (`output/metrics.json`, `output/model/model.json`).
 */
import type { CheckpointManifest } from '../../../worker/checkpoint/checkpoint-store.js';
import { METRICS_FILE, MODEL_DIR, type RunMetrics } from '../../../worker/train/metrics.js';
import { MODEL_FILES } from '../../../worker/train/save-model.js';
import type { VolumeReader } from './provider.js';

const STEP_DIR_RE = /^step-(\d{8,})$/;
/** The output folder on the checkpoint volume (operator/constants.ts MOUNTS.output relative to MOUNTS.checkpoint). */
export const OUTPUT_DIR = 'output';

/**
 * Steps of the checkpoints whose every rank's manifest is present (complete,
 * since manifests are written last), newest first.
 */
export async function listCompleteCheckpointSteps(volumes: VolumeReader, namespace: string, claim: string, worldSize: number): Promise<number[]> {
  const steps: number[] = [];
  for (const entry of await volumes.list(namespace, claim, '.')) {
    const m = STEP_DIR_RE.exec(entry);
    if (m === null) continue;
    const step = Number(m[1]);
    const files = await volumes.list(namespace, claim, entry);
    let complete = true;
    for (let r = 0; r < worldSize && complete; r++) {
      const text = files.includes(`rank-${r}.manifest.json`) ? await volumes.readText(namespace, claim, `${entry}/rank-${r}.manifest.json`) : undefined;
      complete = text !== undefined && (JSON.parse(text) as CheckpointManifest).step === step;
    }
    if (complete) steps.push(step);
  }
  return steps.sort((a, b) => b - a);
}

/** The run's metrics.json on the volume, or undefined before rank 0 wrote it. */
export async function readRunMetrics(volumes: VolumeReader, namespace: string, claim: string): Promise<RunMetrics | undefined> {
  const text = await volumes.readText(namespace, claim, `${OUTPUT_DIR}/${METRICS_FILE}`);
  return text === undefined ? undefined : (JSON.parse(text) as RunMetrics);
}

/** Files of the saved model (`output/model/`). */
export function listModelFiles(volumes: VolumeReader, namespace: string, claim: string): Promise<string[]> {
  return volumes.list(namespace, claim, `${OUTPUT_DIR}/${MODEL_DIR}`);
}

/** The model files a complete save leaves. */
export const EXPECTED_MODEL_FILES: readonly string[] = [MODEL_FILES.json, MODEL_FILES.weights];
