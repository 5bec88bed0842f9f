/**
 * The per-job NetworkPolicy: ingress to the job's worker pods only
 *
 * - on the ring port, from the job's own worker pods;
 * - on the metrics/progress port, from the operator's pods (by label, in the
 *   operator's namespace).
 *
 * Everything else, including other jobs' workers, is dropped by any
 * NetworkPolicy-enforcing CNI. Labels can be copied by anyone who can create
 * pods in the namespace, so this is a second wall: mutual TLS on the ring is
 * what authenticates a peer (see docs/security.md).
 */
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { DEFAULT_METRICS_PORT, DEFAULT_RING_PORT } from '../../common/contract.js';
import type { DATJob } from '../api/types.js';
import { LABELS, MANAGED_BY } from '../constants.js';
import { buildOwnerReference } from './owner-reference.js';

/** Label every namespace carries with its own name (Kubernetes >= 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Where the operator runs and how its pods are labelled. */
export interface OperatorSelector {
  readonly namespace: string;
  readonly podLabels: Readonly<Record<string, string>>;
  /** Extra sources allowed on the metrics port (e.g. Prometheus). @default [] */
  readonly extraMetricsPeers?: readonly V1NetworkPolicyPeer[];
}

/**
 * The peer for a metrics scraper (e.g. Prometheus): pods with `podLabels` in
 * `namespace`; empty labels admit every pod of that namespace.
 */
export function buildMetricsScraperPeer(namespace: string, podLabels: Readonly<Record<string, string>>): V1NetworkPolicyPeer {
  const namespaceSelector = { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } };
  // A namespaceSelector alone admits every pod of the namespace.
  return Object.keys(podLabels).length === 0 ? { namespaceSelector } : { namespaceSelector, podSelector: { matchLabels: { ...podLabels } } };
}

/** The NetworkPolicy's name: `<job>-ring`. */
export function networkPolicyName(jobName: string): string {
  return `${jobName}-ring`;
}

/** Builds the job's NetworkPolicy (pure). */
export function buildNetworkPolicy(job: DATJob, operator: OperatorSelector): V1NetworkPolicy {
  const name = job.metadata.name ?? '';
  const jobPods = { matchLabels: { [LABELS.jobName]: name } };
  const operatorPeer: V1NetworkPolicyPeer = {
    // Both selectors in one peer: pods with these labels AND in the operator's namespace.
    namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: operator.namespace } },
    podSelector: { matchLabels: { ...operator.podLabels } },
  };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(name),
      namespace: job.metadata.namespace,
      labels: { [LABELS.jobName]: name, [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [buildOwnerReference(job)],
    },
    spec: {
      podSelector: jobPods,
      policyTypes: ['Ingress'],
      ingress: [
        // `_from` is client-node's name for `from` (a TS keyword clash); its ObjectSerializer writes `from`.
        // A podSelector alone means: pods of the policy's own namespace.
        { _from: [{ podSelector: jobPods }], ports: [{ protocol: 'TCP', port: DEFAULT_RING_PORT }] },
        { _from: [operatorPeer, ...(operator.extraMetricsPeers ?? [])], ports: [{ protocol: 'TCP', port: DEFAULT_METRICS_PORT }] },
      ],
    },
  };
}
