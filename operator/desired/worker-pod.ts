/** The pod of one rank: the worker contract (env, flags, ports, volumes) rendered from the DATJob. */
import type { V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { DEFAULT_METRICS_PORT, DEFAULT_RING_PORT, WORKER_ENV } from '../../common/contract.js';
import type { DATJob, DATJobVolumeSource } from '../api/types.js';
import { DEFAULTS, LABELS, MANAGED_BY, MOUNTS, POD_NAMES } from '../constants.js';
import { buildPeerTemplate, serviceName, workerPodName } from '../names.js';
import { buildKueuePodMetadata } from './kueue.js';
import { buildPodGroupMembership } from './pod-group.js';
import { buildOwnerReference } from './owner-reference.js';
import { buildTemplatePodSpecFields, mergeEnv, mergeLabels, mergeVolumeMounts, mergeVolumes, templateEnv } from './pod-template.js';
import { buildWorkerContainerSecurityContext, buildWorkerPodSecurityContext, buildWorkerSecurityEnv, buildWorkerSecurityVolumes } from './pod-security.js';
import { buildTrainArgs } from './train-args.js';

/** Options that come from the operator's flags rather than the job. */
export interface WorkerPodOptions {
  /** Image used when `spec.workers.image` is unset. @default ghcr.io/dat-operator/worker:0.1.0 */
  readonly defaultImage?: string;
}

/**
 * Builds the pod of `rank` for the job's current incarnation (`status.restarts`).
 * The user's pod template (`spec.workers.template`) is merged in; the
 * operator's own labels, volumes, mounts and env win where names overlap.
 */
export function buildWorkerPod(job: DATJob, rank: number, opts: WorkerPodOptions = {}): V1Pod {
  const name = job.metadata.name ?? '';
  const namespace = job.metadata.namespace ?? 'default';
  const { workers, training, checkpoint, evaluation } = job.spec;
  const incarnation = job.status?.restarts ?? 0;

  const mounts: V1VolumeMount[] = [{ name: POD_NAMES.checkpointVolume, mountPath: MOUNTS.checkpoint }];
  const volumes: V1Volume[] = [buildVolume(POD_NAMES.checkpointVolume, checkpoint.volume)];
  if (training.dataVolume !== undefined) {
    mounts.push({ name: POD_NAMES.dataVolume, mountPath: MOUNTS.data, readOnly: true });
    volumes.push(buildVolume(POD_NAMES.dataVolume, training.dataVolume, true));
  }
  // Ring TLS (the job CA: the worker issues its own rank certificate) and the writable scratch dirs of the read-only root filesystem.
  const security = buildWorkerSecurityVolumes(name, incarnation);
  mounts.push(...security.mounts);
  volumes.push(...security.volumes);
  const template = workers.template;
  const kueue = buildKueuePodMetadata(job, incarnation);
  const gang = buildPodGroupMembership(job);
  const annotations = { ...template?.metadata?.annotations, ...kueue.annotations, ...gang.annotations };
  const allVolumes = mergeVolumes(volumes, template?.spec?.volumes);
  const allMounts = mergeVolumeMounts(mounts, template?.spec?.volumeMounts, allVolumes.slice(volumes.length));

  const paths = { checkpointDir: MOUNTS.checkpoint, outputDir: MOUNTS.output, dataDir: training.dataVolume === undefined ? undefined : MOUNTS.data };
  const args = buildTrainArgs(training, checkpoint, paths, evaluation);

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: workerPodName(name, rank),
      namespace,
      labels: mergeLabels(
        {
          [LABELS.jobName]: name,
          [LABELS.rank]: String(rank),
          [LABELS.incarnation]: String(incarnation),
          [LABELS.managedBy]: MANAGED_BY,
          ...kueue.labels,
          ...gang.labels,
        },
        template?.metadata?.labels,
      ),
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
      ownerReferences: [buildOwnerReference(job)],
    },
    spec: {
      // The operator restarts the whole gang; a lone restarted rank could not rejoin the ring.
      restartPolicy: 'Never',
      hostname: workerPodName(name, rank),
      subdomain: serviceName(name),
      ...(gang.schedulerName === undefined ? {} : { schedulerName: gang.schedulerName }),
      ...buildTemplatePodSpecFields(workers),
      // Workers never call the API server: no token to steal from a compromised worker.
      automountServiceAccountToken: false,
      securityContext: buildWorkerPodSecurityContext(),
      volumes: allVolumes,
      containers: [
        {
          name: POD_NAMES.container,
          image: workers.image ?? opts.defaultImage ?? DEFAULTS.workerImage,
          imagePullPolicy: workers.imagePullPolicy ?? DEFAULTS.imagePullPolicy,
          // The worker writes its fatal error line there; a crash that could not falls back to the log's tail.
          terminationMessagePolicy: 'FallbackToLogsOnError',
          command: ['dat'],
          args: ['train', ...args],
          env: mergeEnv([...buildWorkerEnv(name, namespace, rank, workers.replicas, incarnation), ...buildWorkerSecurityEnv()], templateEnv(workers)),
          ports: [
            { name: POD_NAMES.ringPort, containerPort: DEFAULT_RING_PORT, protocol: 'TCP' },
            { name: POD_NAMES.metricsPort, containerPort: DEFAULT_METRICS_PORT, protocol: 'TCP' },
          ],
          resources: workers.resources,
          volumeMounts: allMounts,
          securityContext: buildWorkerContainerSecurityContext(),
        },
      ],
    },
  };
}

/**
 * The contract's `DAT_*` variables for one rank. Their size does not depend on
 * the world size: peers are one DNS name pattern, not a list.
 */
export function buildWorkerEnv(jobName: string, namespace: string, rank: number, worldSize: number, incarnation: number): V1EnvVar[] {
  return [
    { name: WORKER_ENV.rank, value: String(rank) },
    { name: WORKER_ENV.worldSize, value: String(worldSize) },
    { name: WORKER_ENV.peerTemplate, value: buildPeerTemplate(jobName, namespace) },
    { name: WORKER_ENV.namespace, value: namespace },
    // Bind the pod IP: right in a cluster, and pods of the test node agent share loopback.
    { name: WORKER_ENV.ringBind, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: WORKER_ENV.ringPort, value: String(DEFAULT_RING_PORT) },
    { name: WORKER_ENV.metricsPort, value: String(DEFAULT_METRICS_PORT) },
    { name: WORKER_ENV.jobName, value: jobName },
    { name: WORKER_ENV.restartCount, value: String(incarnation) },
  ];
}

function buildVolume(name: string, source: DATJobVolumeSource, readOnly = false): V1Volume {
  if (source.claimName !== undefined) return { name, persistentVolumeClaim: { claimName: source.claimName, readOnly } };
  return { name, emptyDir: {} };
}
