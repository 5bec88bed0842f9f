/** The headless Service giving each rank a stable DNS name `<job>-worker-<i>.<job>.<ns>.svc`. */
import type { V1Service } from '@kubernetes/client-node';
import { DEFAULT_METRICS_PORT, DEFAULT_RING_PORT } from '../../common/contract.js';
import type { DATJob } from '../api/types.js';
import { LABELS, MANAGED_BY, POD_NAMES } from '../constants.js';
import { serviceName } from '../names.js';
import { buildOwnerReference } from './owner-reference.js';

/**
 * Builds the headless Service. `publishNotReadyAddresses` makes peers resolvable
 * before they are Ready: the ring forms before any readiness can be reported.
 */
export function buildHeadlessService(job: DATJob): V1Service {
  const name = job.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName(name),
      namespace: job.metadata.namespace,
      labels: { [LABELS.jobName]: name, [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [buildOwnerReference(job)],
    },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [LABELS.jobName]: name },
      ports: [
        { name: POD_NAMES.ringPort, port: DEFAULT_RING_PORT, targetPort: DEFAULT_RING_PORT, protocol: 'TCP' },
        { name: POD_NAMES.metricsPort, port: DEFAULT_METRICS_PORT, targetPort: DEFAULT_METRICS_PORT, protocol: 'TCP' },
      ],
    },
  };
}
