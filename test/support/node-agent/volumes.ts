/**
 * Pod volumes as host directories, and the bind mounts that put them at each
 * container's mount paths (inside the pod's private mount namespace).
 */
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1Container, V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node';
import { ContainerConfigError, resolveFieldRef } from './env.js';

/** Where kubelet mounts the service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Default lifetime requested for projected service-account tokens. */
const DEFAULT_TOKEN_SECONDS = 3600;

/** One bind mount in a container's mount namespace. */
export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** Side effects a volume needs from the agent. */
export interface VolumeSources {
  /** All keys of a Secret/ConfigMap, values decoded to bytes (`undefined` when absent). */
  readData(kind: 'Secret' | 'ConfigMap', namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  /** A real token from the TokenRequest API, bound to the pod. */
  requestToken(namespace: string, serviceAccount: string, audiences: string[] | undefined, seconds: number, pod: V1Pod): Promise<string>;
  /** PEM of the cluster CA (fallback for `kube-root-ca.crt` when no controller publishes it). */
  readonly caPem: string;
  /** The dir of persistent volume claims: `<pvcRoot>/<namespace>/<claim>` survives pods. */
  readonly pvcRoot: string;
}

function writeFiles(dir: string, files: Record<string, Buffer | string>, mode?: number): void {
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (mode !== undefined) chmodSync(path, mode);
  }
}

function selectItems(data: Record<string, Buffer>, items: readonly V1KeyToPath[] | undefined, what: string, optional: boolean): Record<string, Buffer> {
  if (items === undefined || items.length === 0) return data;
  const out: Record<string, Buffer> = {};
  for (const it of items) {
    const v = data[it.key];
    if (v === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`${what} has no key "${it.key}"`);
    }
    out[it.path] = v;
  }
  return out;
}

function downwardFiles(pod: V1Pod, items: readonly V1DownwardAPIVolumeFile[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items ?? []) {
    if (it.fieldRef !== undefined) out[it.path] = resolveFieldRef(pod, it.fieldRef);
  }
  return out;
}

async function configData(
  src: VolumeSources,
  pod: V1Pod,
  kind: 'Secret' | 'ConfigMap',
  name: string,
  items: readonly V1KeyToPath[] | undefined,
  optional: boolean,
): Promise<Record<string, Buffer>> {
  const ns = pod.metadata?.namespace ?? 'default';
  let data = await src.readData(kind, ns, name);
  if (data === undefined && kind === 'ConfigMap' && name === 'kube-root-ca.crt') data = { 'ca.crt': Buffer.from(src.caPem) };
  if (data === undefined) {
    if (optional) return {};
    throw new ContainerConfigError(`${kind.toLowerCase()} "${name}" not found`);
  }
  return selectItems(data, items, `${kind.toLowerCase()} "${name}"`, optional);
}

/**
 * Materializes one volume under `podDir` and returns its host directory (or
 * file for a hostPath file). emptyDir is per pod; persistentVolumeClaim is per
 * namespace+claim under `pvcRoot`, so it persists across pod restarts.
 * @throws ContainerConfigError for a missing non-optional source or an unsupported kind.
 */
export async function prepareVolume(vol: V1Volume, pod: V1Pod, podDir: string, src: VolumeSources): Promise<string> {
  const ns = pod.metadata?.namespace ?? 'default';
  const dir = join(podDir, 'volumes', vol.name);
  if (vol.emptyDir !== undefined) {
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  if (vol.hostPath !== undefined) {
    if (vol.hostPath.type === 'DirectoryOrCreate') mkdirSync(vol.hostPath.path, { recursive: true });
    return vol.hostPath.path;
  }
  if (vol.persistentVolumeClaim !== undefined) {
    const pvDir = join(src.pvcRoot, ns, vol.persistentVolumeClaim.claimName);
    mkdirSync(pvDir, { recursive: true });
    return pvDir;
  }
  if (vol.secret !== undefined) {
    const s = vol.secret;
    writeFiles(dir, await configData(src, pod, 'Secret', s.secretName ?? '', s.items, s.optional === true), s.defaultMode);
    return dir;
  }
  if (vol.configMap !== undefined) {
    const c = vol.configMap;
    writeFiles(dir, await configData(src, pod, 'ConfigMap', c.name ?? '', c.items, c.optional === true), c.defaultMode);
    return dir;
  }
  if (vol.downwardAPI !== undefined) {
    writeFiles(dir, downwardFiles(pod, vol.downwardAPI.items));
    return dir;
  }
  if (vol.projected !== undefined) {
    const files: Record<string, Buffer | string> = {};
    for (const s of vol.projected.sources ?? []) {
      if (s.serviceAccountToken !== undefined) {
        const t = s.serviceAccountToken;
        const audiences = t.audience === undefined ? undefined : [t.audience];
        files[t.path] = await src.requestToken(ns, pod.spec?.serviceAccountName ?? 'default', audiences, t.expirationSeconds ?? DEFAULT_TOKEN_SECONDS, pod);
      } else if (s.configMap !== undefined) {
        Object.assign(files, await configData(src, pod, 'ConfigMap', s.configMap.name ?? '', s.configMap.items, s.configMap.optional === true));
      } else if (s.secret !== undefined) {
        Object.assign(files, await configData(src, pod, 'Secret', s.secret.name ?? '', s.secret.items, s.secret.optional === true));
      } else if (s.downwardAPI !== undefined) {
        Object.assign(files, downwardFiles(pod, s.downwardAPI.items));
      }
    }
    writeFiles(dir, files, vol.projected.defaultMode);
    return dir;
  }
  throw new ContainerConfigError(`volume "${vol.name}": unsupported volume type (supported: emptyDir, hostPath, persistentVolumeClaim, secret, configMap, downwardAPI, projected)`);
}

/**
 * The service-account files kubelet would mount when the pod asks for them
 * but carries no mount (the ServiceAccount admission plugin is off): written
 * under `podDir`, returns the dir, or `undefined` if automount is disabled.
 */
export async function prepareServiceAccountDir(pod: V1Pod, podDir: string, src: VolumeSources): Promise<string | undefined> {
  if (pod.spec?.automountServiceAccountToken === false) return undefined;
  const ns = pod.metadata?.namespace ?? 'default';
  const token = await src.requestToken(ns, pod.spec?.serviceAccountName ?? 'default', undefined, DEFAULT_TOKEN_SECONDS, pod);
  const dir = join(podDir, 'serviceaccount');
  writeFiles(dir, { token, 'ca.crt': src.caPem, namespace: ns });
  return dir;
}

/** The bind mounts of one container, given each volume's host path. */
export function buildMounts(container: V1Container, volumePaths: ReadonlyMap<string, string>, serviceAccountDir: string | undefined): BindMount[] {
  const mounts: BindMount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const base = volumePaths.get(m.name);
    if (base === undefined) throw new ContainerConfigError(`volumeMount "${m.name}" names no volume of the pod`);
    mounts.push({ source: m.subPath ? join(base, m.subPath) : base, target: m.mountPath, readOnly: m.readOnly === true });
  }
  const hasSa = mounts.some((m) => m.target === SERVICE_ACCOUNT_MOUNT_PATH);
  if (!hasSa && serviceAccountDir !== undefined) mounts.push({ source: serviceAccountDir, target: SERVICE_ACCOUNT_MOUNT_PATH, readOnly: true });
  return mounts;
}
