/**
 * The user-facing example manifests (examples/*.yaml) and the variants the
 * fault scenarios derive from them: the same job, renamed and with a few
 * fields changed, so every scenario trains what a user would apply.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { DATJob } from '../../../operator/api/types.js';
import { REPO_ROOT } from '../../support/paths.js';

/** Paths of the example manifests. */
export const EXAMPLES = {
  mnist: join(REPO_ROOT, 'examples', 'datjob-mnist.yaml'),
  gpuResnet: join(REPO_ROOT, 'examples', 'datjob-gpu-resnet.yaml'),
  pvc: join(REPO_ROOT, 'examples', 'pvc.yaml'),
  /** A DATJob submitted to a Kueue LocalQueue (its queue objects need Kueue's CRDs: examples/kueue/gpu-queue.yaml). */
  kueueJob: join(REPO_ROOT, 'examples', 'kueue', 'datjob-queued.yaml'),
} as const;

/** A Kubernetes object as parsed from YAML. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Every document of a manifest file. */
export function loadManifests(path: string): ManifestObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null);
}

/** The MNIST example DATJob as written. */
export function loadMnistJob(): DATJob {
  return parse(readFileSync(EXAMPLES.mnist, 'utf8')) as DATJob;
}

/** Claim name of the example PVC. */
export function examplePvcName(): string {
  const pvc = loadManifests(EXAMPLES.pvc).find((o) => o.kind === 'PersistentVolumeClaim');
  if (pvc === undefined) throw new Error(`${EXAMPLES.pvc} has no PersistentVolumeClaim`);
  return pvc.metadata.name;
}

/** The example PVC as YAML, with its access mode replaced when the provider needs it. */
export function examplePvcYaml(accessMode: string | undefined): string {
  const objs = loadManifests(EXAMPLES.pvc);
  if (accessMode !== undefined) {
    for (const o of objs) if (o.kind === 'PersistentVolumeClaim' && o.spec !== undefined) o.spec.accessModes = [accessMode];
  }
  return objs.map((o) => stringify(o)).join('---\n');
}

/** A deep partial of a plain object, for {@link deriveJob}'s patch. */
export type DeepPartial<T> = T extends readonly (infer _U)[] ? T : T extends object ? { -readonly [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Merges `patch` into `base` (objects recursively; arrays and scalars replace). */
function merge(base: unknown, patch: unknown): unknown {
  if (patch === undefined) return base;
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = merge(out[k], v);
  return out;
}

/**
 * The example job renamed to `name`, with `spec` patched. Pure: returns a new
 * object and YAML text for `kubectl apply -f -`.
 */
export function deriveJob(base: DATJob, name: string, spec: DeepPartial<DATJob['spec']> = {}): { job: DATJob; yaml: string } {
  const job: DATJob = {
    ...base,
    metadata: { ...base.metadata, name },
    spec: merge(base.spec, spec) as DATJob['spec'],
  };
  return { job, yaml: stringify(job) };
}
