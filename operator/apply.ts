/**
 * Every write the operator makes to the API server, behind {@link ClusterWriter}
 * so the reconciler stays testable. This is the only module with side effects
 * on the cluster (besides the informers' reads and the Lease store).
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1NetworkPolicy,
  type V1Pod,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import { apiErrorCode, toApiError, type ApiError } from './api-error.js';
import type { DATJob, DATJobStatus } from './api/types.js';
import { API_VERSION, FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION } from './constants.js';
import { buildMergePatch } from './merge-patch.js';
import { makeApiClient } from './kube-client.js';
import type { StatusEvent } from './status.js';
import type { PodGroupObject } from './desired/pod-group.js';

/** The operator's writes. Create treats 409 AlreadyExists as success, delete treats 404 as success. */
export interface ClusterWriter {
  /** Resolves to false when the pod already existed. */
  createPod(pod: V1Pod): Promise<boolean>;
  /** `gracePeriodSeconds` overrides the pod's own grace (undefined: keep it). */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void>;
  /** Merge-patches a pod's annotations (404 counts as success: the pod is gone). */
  patchPodAnnotations(namespace: string, name: string, annotations: Readonly<Record<string, string>>): Promise<void>;
  createService(svc: V1Service): Promise<void>;
  /** Creates the ring TLS Secret; resolves to false when it already existed (the operator never reads Secrets). */
  createSecret(secret: V1Secret): Promise<boolean>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  createNetworkPolicy(policy: V1NetworkPolicy): Promise<void>;
  /**
   * Creates a gang scheduler's PodGroup; when it exists (409), merge-patches
   * the annotations `group` carries (none: nothing to update). The API server
   * skips a patch that changes nothing, so the scheduler sees an update only
   * when a value differs.
   */
  applyPodGroup(group: PodGroupObject): Promise<void>;
  /**
   * Merge-patches the status subresource from `job.status` to `status`, with the
   * job's resourceVersion as a precondition (a stale cache gets 409, not a double restart).
   * Resolves to the updated job.
   */
  patchJobStatus(job: DATJob, status: DATJobStatus): Promise<DATJob>;
  deleteJob(namespace: string, name: string): Promise<void>;
  emitEvent(job: DATJob, event: StatusEvent): Promise<void>;
}

export { apiErrorCode, apiErrorMessage } from './api-error.js';

/** Wraps an API failure with context as an {@link ApiError}: transient (5xx, 409, 429, no answer) or refused (other 4xx). */
function wrapApiError(context: string, err: unknown): ApiError {
  return toApiError(context, err);
}

/** The real {@link ClusterWriter} on @kubernetes/client-node. */
export class KubeClusterWriter implements ClusterWriter {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly networking: NetworkingV1Api;
  private readonly identity: string;

  constructor(kc: KubeConfig, identity = FIELD_MANAGER) {
    this.core = makeApiClient(kc, CoreV1Api);
    this.custom = makeApiClient(kc, CustomObjectsApi);
    this.networking = makeApiClient(kc, NetworkingV1Api);
    this.identity = identity;
  }

  async createPod(pod: V1Pod): Promise<boolean> {
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedPod({ namespace, body: pod, fieldManager: FIELD_MANAGER });
      return true;
    } catch (err) {
      if (apiErrorCode(err) === 409) return false;
      throw wrapApiError(`failed to create pod ${namespace}/${pod.metadata?.name ?? ''}`, err);
    }
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) });
    } catch (err) {
      if (apiErrorCode(err) === 404) return;
      throw wrapApiError(`failed to delete pod ${namespace}/${name}`, err);
    }
  }

  async patchPodAnnotations(namespace: string, name: string, annotations: Readonly<Record<string, string>>): Promise<void> {
    try {
      await this.core.patchNamespacedPod(
        { namespace, name, body: { metadata: { annotations } }, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (apiErrorCode(err) === 404) return;
      throw wrapApiError(`failed to annotate pod ${namespace}/${name}`, err);
    }
  }

  async createService(svc: V1Service): Promise<void> {
    const namespace = svc.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedService({ namespace, body: svc, fieldManager: FIELD_MANAGER });
    } catch (err) {
      if (apiErrorCode(err) === 409) return;
      throw wrapApiError(`failed to create service ${namespace}/${svc.metadata?.name ?? ''}`, err);
    }
  }

  async createSecret(secret: V1Secret): Promise<boolean> {
    const namespace = secret.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedSecret({ namespace, body: secret, fieldManager: FIELD_MANAGER });
      return true;
    } catch (err) {
      if (apiErrorCode(err) === 409) return false;
      throw wrapApiError(`failed to create secret ${namespace}/${secret.metadata?.name ?? ''}`, err);
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ namespace, name });
    } catch (err) {
      if (apiErrorCode(err) === 404) return;
      throw wrapApiError(`failed to delete secret ${namespace}/${name}`, err);
    }
  }

  async createNetworkPolicy(policy: V1NetworkPolicy): Promise<void> {
    const namespace = policy.metadata?.namespace ?? 'default';
    try {
      await this.networking.createNamespacedNetworkPolicy({ namespace, body: policy, fieldManager: FIELD_MANAGER });
    } catch (err) {
      if (apiErrorCode(err) === 409) return;
      throw wrapApiError(`failed to create networkpolicy ${namespace}/${policy.metadata?.name ?? ''}`, err);
    }
  }

  async applyPodGroup(group: PodGroupObject): Promise<void> {
    const [apiGroup = '', version = ''] = group.apiVersion.split('/');
    const { namespace, name, annotations } = group.metadata;
    try {
      await this.custom.createNamespacedCustomObject({ group: apiGroup, version, namespace, plural: 'podgroups', body: group, fieldManager: FIELD_MANAGER });
      return;
    } catch (err) {
      if (apiErrorCode(err) !== 409) throw wrapApiError(`failed to create ${group.apiVersion} podgroup ${namespace}/${name} (is the gang scheduler installed?)`, err);
    }
    if (annotations === undefined || Object.keys(annotations).length === 0) return;
    try {
      await this.custom.patchNamespacedCustomObject(
        { group: apiGroup, version, namespace, plural: 'podgroups', name, body: { metadata: { annotations } }, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw wrapApiError(`failed to annotate ${group.apiVersion} podgroup ${namespace}/${name}`, err);
    }
  }

  async patchJobStatus(job: DATJob, status: DATJobStatus): Promise<DATJob> {
    const namespace = job.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    const statusPatch = buildMergePatch(job.status ?? {}, status) ?? {};
    const body = { metadata: { resourceVersion: job.metadata.resourceVersion }, status: statusPatch };
    try {
      // Merge patch needs its Content-Type set explicitly: the client defaults to JSON patch (client-node#2160).
      const updated: unknown = await this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return updated as DATJob;
    } catch (err) {
      throw wrapApiError(`failed to update status of datjob ${namespace}/${name}`, err);
    }
  }

  async deleteJob(namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, propagationPolicy: 'Background' });
    } catch (err) {
      if (apiErrorCode(err) === 404) return;
      throw wrapApiError(`failed to delete datjob ${namespace}/${name}`, err);
    }
  }

  async emitEvent(job: DATJob, event: StatusEvent): Promise<void> {
    const namespace = job.metadata.namespace ?? 'default';
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${job.metadata.name ?? 'datjob'}.`, namespace },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, name: job.metadata.name, namespace, uid: job.metadata.uid, resourceVersion: job.metadata.resourceVersion },
      type: event.type,
      reason: event.reason,
      message: event.message,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: this.identity },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: this.identity,
    };
    try {
      await this.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      throw wrapApiError(`failed to record event ${event.reason} for datjob ${namespace}/${job.metadata.name ?? ''}`, err);
    }
  }
}
