/**
 * The per-job ring TLS Secret and how a worker pod mounts its part of it.
 *
 * The Secret holds the job CA certificate and every rank's certificate and
 * key (`ca.crt`, `rank-<r>.crt`, `rank-<r>.key`); the CA's private key is
 * never stored: the operator issues all rank certificates at once and drops
 * it, so nothing in the cluster can mint another identity for the job.
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
import type { RingCredentials } from '../../worker/security/certs.js';
import { TLS_FILES } from '../../worker/security/tls-files.js';
import type { DATJob } from '../api/types.js';
import { LABELS, MANAGED_BY } from '../constants.js';
import { buildOwnerReference } from './owner-reference.js';

/** Where a worker pod sees its ring credentials (DAT_TLS_DIR). */
export const RING_TLS_MOUNT_PATH = '/var/run/dat/ring-tls';
/** Name of the ring TLS volume in a worker pod. */
export const RING_TLS_VOLUME = 'ring-tls';
/** Secret key of the CA certificate. */
export const CA_KEY = 'ca.crt';
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

/** Secret key of rank `rank`'s certificate. */
export function rankCertKey(rank: number): string {
  return `rank-${rank}.crt`;
}

/** Secret key of rank `rank`'s private key. */
export function rankKeyKey(rank: number): string {
  return `rank-${rank}.key`;
}

/** The current gang incarnation of `job` (the pods' incarnation label). */
export function jobIncarnation(job: DATJob): number {
  return job.status?.restarts ?? 0;
}

/** The issued credentials of one incarnation: the CA certificate and one pair per rank. */
export interface RingTlsMaterial {
  readonly caPem: string;
  readonly ranks: readonly RingCredentials[];
}

/**
 * Builds the Secret holding `creds` for `job`'s current incarnation (pure).
 * Create it only when about to create the incarnation's pods: issuing keys on
 * every reconcile would be wasted work (the create would get 409).
 */
export function buildRingTlsSecret(job: DATJob, creds: RingTlsMaterial): V1Secret {
  const name = job.metadata.name ?? '';
  const data: Record<string, string> = { [CA_KEY]: Buffer.from(creds.caPem).toString('base64') };
  creds.ranks.forEach((r, rank) => {
    data[rankCertKey(rank)] = Buffer.from(r.certPem).toString('base64');
    data[rankKeyKey(rank)] = Buffer.from(r.keyPem).toString('base64');
  });
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
 * The pod volume for rank `rank` of incarnation `incarnation`: only the CA,
 * its own certificate and its own key (as `ca.crt`, `tls.crt`, `tls.key`),
 * so a compromised worker holds no other rank's key.
 */
export function buildRingTlsVolume(jobName: string, incarnation: number, rank: number): V1Volume {
  return {
    name: RING_TLS_VOLUME,
    secret: {
      secretName: ringTlsSecretName(jobName, incarnation),
      defaultMode: RING_TLS_FILE_MODE,
      items: [
        { key: CA_KEY, path: TLS_FILES.ca },
        { key: rankCertKey(rank), path: TLS_FILES.cert },
        { key: rankKeyKey(rank), path: TLS_FILES.key },
      ],
    },
  };
}

/** The read-only mount of {@link buildRingTlsVolume} at {@link RING_TLS_MOUNT_PATH}. */
export function buildRingTlsVolumeMount(): V1VolumeMount {
  return { name: RING_TLS_VOLUME, mountPath: RING_TLS_MOUNT_PATH, readOnly: true };
}
