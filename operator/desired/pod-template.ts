/**
 * The user's pod template (`spec.workers.template`) merged into a worker pod.
 * The operator's own fields win wherever the two overlap: its labels, its
 * volumes and mount paths, and its environment variables. The CRD rejects most
 * overlaps on admission; these merges keep the pod right even for an object
 * that bypassed validation (an older CRD version, a direct etcd restore).
 */
import type { V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { DATJobExtraVolume, DATJobWorkersSpec } from '../api/types.js';

/** Labels of a worker pod: the template's, then the operator's (which win on a shared key). */
export function mergeLabels(own: Record<string, string>, template: Record<string, string> | undefined): Record<string, string> {
  return { ...template, ...own };
}

/** Environment: the operator's variables, then the user's whose names the operator does not set. */
export function mergeEnv(own: readonly V1EnvVar[], extra: readonly V1EnvVar[] | undefined): V1EnvVar[] {
  const taken = new Set(own.map((e) => e.name));
  return [...own, ...(extra ?? []).filter((e) => !taken.has(e.name))];
}

/** Volumes: the operator's, then the template's whose names are free. */
export function mergeVolumes(own: readonly V1Volume[], extra: readonly DATJobExtraVolume[] | undefined): V1Volume[] {
  const taken = new Set(own.map((v) => v.name));
  return [...own, ...(extra ?? []).filter((v) => !taken.has(v.name)).map((v) => ({ ...v }))];
}

/**
 * Mounts: the operator's, then the template's that name a template volume and
 * whose path is neither one of the operator's nor inside one of them.
 */
export function mergeVolumeMounts(own: readonly V1VolumeMount[], extra: readonly V1VolumeMount[] | undefined, extraVolumes: readonly V1Volume[]): V1VolumeMount[] {
  const ownNames = new Set(own.map((m) => m.name));
  const volumeNames = new Set(extraVolumes.map((v) => v.name));
  const clashes = (path: string): boolean => own.some((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`) || m.mountPath.startsWith(`${path}/`));
  return [...own, ...(extra ?? []).filter((m) => !ownNames.has(m.name) && volumeNames.has(m.name) && !clashes(m.mountPath))];
}

/** The scheduling and identity fields of the pod spec, from the template or the top of `workers`. */
export function buildTemplatePodSpecFields(workers: DATJobWorkersSpec): Partial<V1PodSpec> {
  const t = workers.template?.spec ?? {};
  const fields: Partial<V1PodSpec> = {
    serviceAccountName: workers.serviceAccountName ?? t.serviceAccountName,
    nodeSelector: workers.nodeSelector ?? t.nodeSelector,
    tolerations: workers.tolerations ?? t.tolerations,
    affinity: t.affinity,
    priorityClassName: t.priorityClassName,
    schedulerName: t.schedulerName,
    terminationGracePeriodSeconds: t.terminationGracePeriodSeconds,
    imagePullSecrets: t.imagePullSecrets,
  };
  // Absent keys rather than `undefined` ones: the golden files and merge patches stay unchanged for jobs without a template.
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<V1PodSpec>;
}

/** The user's extra env, from the template or the top of `workers`. */
export function templateEnv(workers: DATJobWorkersSpec): V1EnvVar[] | undefined {
  return workers.env ?? workers.template?.spec?.env;
}
