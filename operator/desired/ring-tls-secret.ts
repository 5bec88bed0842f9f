/**
 * The per-job ring TLS Secret and how a worker pod mounts it.
 *
 * The Secret holds the job CA's certificate and private key (`ca.crt`,
 * `ca.key`), whatever the number of ranks: each worker issues its own rank
 * certificate from it at start (common/tls-files.ts), so the Secret
 * stays about 1 KiB at 1,024 ranks (one certificate per rank would pass the
 * API server's 1 MiB Secret limit there) and the operator's work per
 * incarnation is one CA, not one certificate per rank. The operator keeps no
 * copy of the CA key once the Secret is built. What this changes for the
 * threat model is in docs/security.md.
 *
 * Rotation: each gang incarnation gets its own Secret, named after it
 * (`<job>-ring-tls-<incarnation>`) with a new CA, so a pod of an older
 * incarnation cannot rejoin the ring. Because the name carries the
 * incarnation, the operator never reads a Secret: it creates the current one
 * (409 AlreadyExists means an earlier reconcile did) and deletes the previous
 * one by name (404 is fine). Its RBAC on Secrets is `create` and `delete`
 * only, which cannot disclose any Secret in the namespace.
 */
import type { V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { PemPair } from '../../common/certs.js';
import { JOB_CA_KEY_FILE, TLS_FILES } from '../../common/tls-files.js';
import type { DATJob } from '../api/types.js';
import { LABELS, MANAGED_BY } from '../constants.js';
import { buildOwnerReference } from './owner-reference.js';

/** Where a worker pod sees its ring credentials (DAT_TLS_DIR). */
export const RING_TLS_MOUNT_PATH = '/var/run/dat/ring-tls';
/** Name of the ring TLS volume in a worker pod. */
export const RING_TLS_VOLUME = 'ring-tls';
/** Secret key of the CA certificate. */
export const CA_KEY = 'ca.crt';
/** Secret key of the CA's private key. */
export const CA_PRIVATE_KEY = 'ca.key';
/**
 * Mode of the mounted files: readable by owner and group. Secret files are
 * owned by root; with the pod's `fsGroup` the non-root worker reads them
 * through the group bit, and no one else on the node can.
 */
export const RING_TLS_FILE_MODE = 0o440;

/** The ring TLS Secret's name for one incarnation: `<job>-ring-tls-<incarnation>`. */
export function ringTlsSecretName(jobName: string, incarnation: number): string {
  return `${jobName}-ring-tls-${incarnation}`;
}

/** The current gang incarnation of `job` (the pods' incarnation label). */
export function jobIncarnation(job: DATJob): number {
  return job.status?.restarts ?? 0;
}

/**
 * Builds the Secret holding `ca` (the job CA of the current incarnation:
 * certificate and key) for `job` (pure). Create it only when about to create
 * the incarnation's pods: a new CA on every reconcile would be wasted work
 * (the create would get 409).
 */
export function buildRingTlsSecret(job: DATJob, ca: PemPair): V1Secret {
  const name = job.metadata.name ?? '';
  const data: Record<string, string> = {
    [CA_KEY]: Buffer.from(ca.certPem).toString('base64'),
    [CA_PRIVATE_KEY]: Buffer.from(ca.keyPem).toString('base64'),
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: ringTlsSecretName(name, jobIncarnation(job)),
      namespace: job.metadata.namespace,
      labels: { [LABELS.jobName]: name, [LABELS.incarnation]: String(jobIncarnation(job)), [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [buildOwnerReference(job)],
    },
    // Credentials never change in place: a new incarnation gets a new Secret.
    immutable: true,
    data,
  };
}

/**
 * Names of the Secrets of earlier incarnations to delete once the current
 * one exists: only the one just before (older ones were deleted by earlier
 * rotations; the owner reference collects anything left with the job).
 */
export function staleRingTlsSecretNames(job: DATJob): string[] {
  const k = jobIncarnation(job);
  return k > 0 ? [ringTlsSecretName(job.metadata.name ?? '', k - 1)] : [];
}

/**
 * The pod volume of incarnation `incarnation`: the job CA certificate and key
 * (as `ca.crt`, `ca.key`), the same for every rank; the worker issues its own
 * rank certificate from them.
 */
export function buildRingTlsVolume(jobName: string, incarnation: number): V1Volume {
  return {
    name: RING_TLS_VOLUME,
    secret: {
      secretName: ringTlsSecretName(jobName, incarnation),
      defaultMode: RING_TLS_FILE_MODE,
      items: [
        { key: CA_KEY, path: TLS_FILES.ca },
        { key: CA_PRIVATE_KEY, path: JOB_CA_KEY_FILE },
      ],
    },
  };
}

/** The read-only mount of {@link buildRingTlsVolume} at {@link RING_TLS_MOUNT_PATH}. */
export function buildRingTlsVolumeMount(): V1VolumeMount {
  return { name: RING_TLS_VOLUME, mountPath: RING_TLS_MOUNT_PATH, readOnly: true };
}
