/** The Kubernetes {@link LeaseStore}: one coordination.k8s.io/v1 Lease. */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { apiErrorCode } from './apply.js';
import type { LeaseRecord, LeaseStore } from './leader-election.js';

/** MicroTime fields arrive as Date or as the raw string, depending on the client's deserializer. */
function toIso(v: unknown): string | undefined {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : undefined;
}

function toRecord(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity,
    leaseDurationSeconds: s.leaseDurationSeconds,
    acquireTime: toIso(s.acquireTime),
    renewTime: toIso(s.renewTime),
    leaseTransitions: s.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

function micro(iso: string | undefined): V1MicroTime | undefined {
  return iso === undefined ? undefined : new V1MicroTime(iso);
}

/** Reads and writes the Lease `namespace/name`. */
export class KubeLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly name: string;

  constructor(kc: KubeConfig, namespace: string, name: string) {
    // Not the reconciles' shared pool (kube-client.ts): a burst of creates queued there must never delay a renewal.
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.namespace = namespace;
    this.name = name;
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (err) {
      if (apiErrorCode(err) === 404) return undefined;
      throw err;
    }
  }

  async create(r: LeaseRecord): Promise<LeaseRecord> {
    return toRecord(await this.api.createNamespacedLease({ namespace: this.namespace, body: this.toLease(r) }));
  }

  async update(r: LeaseRecord): Promise<LeaseRecord> {
    return toRecord(await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.toLease(r) }));
  }

  private toLease(r: LeaseRecord): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion: r.resourceVersion },
      spec: {
        holderIdentity: r.holderIdentity,
        leaseDurationSeconds: r.leaseDurationSeconds,
        acquireTime: micro(r.acquireTime),
        renewTime: micro(r.renewTime),
        leaseTransitions: r.leaseTransitions,
      },
    };
  }
}
