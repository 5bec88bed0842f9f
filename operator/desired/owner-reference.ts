/** The controller owner reference every child carries, so deleting the DATJob garbage-collects it. */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { DATJob } from '../api/types.js';
import { API_VERSION, KIND } from '../constants.js';

/** Builds a controller owner reference to `job` (blockOwnerDeletion for foreground deletion). */
export function buildOwnerReference(job: DATJob): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: job.metadata.name ?? '',
    uid: job.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}
