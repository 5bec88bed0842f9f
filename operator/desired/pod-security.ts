/**
 * Hardening of worker pods: what a DAT worker needs and nothing more.
 *
 * - Non-root (the images' UID/GID 65532) with `fsGroup`, so the mounted ring
 *   TLS files (mode 0440, root-owned) are readable through the group.
 * - Read-only root filesystem; the only writable paths are emptyDirs at /tmp
 *   and at the dataset cache (DAT_CACHE_DIR), plus the job's own volumes.
 * - No capabilities, no privilege escalation, the runtime's default seccomp
 *   profile, and no service-account token (workers never call the API).
 */
import type { V1EnvVar, V1PodSecurityContext, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { WORKER_ENV } from '../../common/contract.js';
import { RING_TLS_MOUNT_PATH, buildRingTlsVolume, buildRingTlsVolumeMount } from './ring-tls-secret.js';

/** UID and GID of the `dat` user in the worker images (images/worker.Dockerfile). */
export const WORKER_UID = 65532;
/** Writable scratch paths on the read-only root filesystem. */
export const SCRATCH_MOUNTS = {
  tmp: { volume: 'tmp', path: '/tmp' },
  cache: { volume: 'dataset-cache', path: '/var/cache/dat' },
} as const;

/** Pod-level security context of a worker pod. */
export function buildWorkerPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: WORKER_UID,
    runAsGroup: WORKER_UID,
    fsGroup: WORKER_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level security context of the worker container. */
export function buildWorkerContainerSecurityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The ring TLS volume and the scratch emptyDirs of a worker pod (the same for every rank). */
export function buildWorkerSecurityVolumes(jobName: string, incarnation: number): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  return {
    volumes: [
      buildRingTlsVolume(jobName, incarnation),
      { name: SCRATCH_MOUNTS.cache.volume, emptyDir: {} },
      { name: SCRATCH_MOUNTS.tmp.volume, emptyDir: {} },
    ],
    // /tmp last: a runtime that bind-mounts in order (the test node agent keeps its volume dirs under the
    // host's /tmp) must not hide the other mounts' sources behind the new /tmp.
    mounts: [
      buildRingTlsVolumeMount(),
      { name: SCRATCH_MOUNTS.cache.volume, mountPath: SCRATCH_MOUNTS.cache.path },
      { name: SCRATCH_MOUNTS.tmp.volume, mountPath: SCRATCH_MOUNTS.tmp.path },
    ],
  };
}

/** Environment pointing the worker at its TLS files and writable paths. */
export function buildWorkerSecurityEnv(): V1EnvVar[] {
  return [
    { name: WORKER_ENV.tlsDir, value: RING_TLS_MOUNT_PATH },
    { name: WORKER_ENV.cacheDir, value: SCRATCH_MOUNTS.cache.path },
    // os.tmpdir() must land on the writable emptyDir whatever TMPDIR the runtime passes.
    { name: 'TMPDIR', value: SCRATCH_MOUNTS.tmp.path },
  ];
}
