/**
 * Reading a DATJob and what it owns through kubectl, the way a user would:
 * `kubectl get datjob`, `kubectl get events`, pods and services by the
 * operator's job-name label.
 */
import type { CoreV1Event, V1Pod, V1Service } from '@kubernetes/client-node';
import type { DATJob } from '../../../operator/api/types.js';
import { LABELS, PLURAL } from '../../../operator/constants.js';
import type { KubeCli, KubeList } from './kube-cli.js';
import { waitFor } from './poll.js';

/** `kubectl get datjobs <name>`, or undefined once it is gone. */
export function getDATJob(cli: KubeCli, namespace: string, name: string): Promise<DATJob | undefined> {
  return cli.getJsonIfExists<DATJob>([PLURAL, name], { namespace });
}

/** A one-line summary of a job's status for timeout messages. */
export async function describeDATJob(cli: KubeCli, namespace: string, name: string): Promise<string> {
  const job = await getDATJob(cli, namespace, name);
  const events = await listJobEvents(cli, namespace, name).catch(() => []);
  return `${JSON.stringify(job?.status ?? 'job not found')}\nevents: ${events.map((e) => `${e.reason}: ${e.message ?? ''}`).join(' | ')}`;
}

/** Waits until `accept(job)` holds and returns the job. */
export function waitForDATJob(
  cli: KubeCli,
  namespace: string,
  name: string,
  what: string,
  accept: (job: DATJob) => boolean,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<DATJob> {
  return waitFor(
    async () => {
      const job = await getDATJob(cli, namespace, name);
      return job !== undefined && accept(job) ? job : undefined;
    },
    { what: `DATJob ${namespace}/${name}: ${what}`, timeoutMs, intervalMs, describe: () => describeDATJob(cli, namespace, name) },
  );
}

/** Events whose involved object is the DATJob, oldest first. */
export async function listJobEvents(cli: KubeCli, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await cli.getJson<KubeList<CoreV1Event>>(['events', '--field-selector', `involvedObject.name=${name}`], { namespace });
  return list.items
    .filter((e) => e.involvedObject.kind === 'DATJob')
    .sort((a, b) => eventTime(a) - eventTime(b));
}

function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
  return t === undefined ? 0 : new Date(t as unknown as string).getTime();
}

/** Reasons of the DATJob's events, oldest first. */
export async function listJobEventReasons(cli: KubeCli, namespace: string, name: string): Promise<string[]> {
  return (await listJobEvents(cli, namespace, name)).map((e) => e.reason ?? '');
}

/** Pods carrying the job's label (every incarnation). */
export async function listJobPods(cli: KubeCli, namespace: string, name: string): Promise<V1Pod[]> {
  return (await cli.getJson<KubeList<V1Pod>>(['pods', '-l', `${LABELS.jobName}=${name}`], { namespace })).items;
}

/** Services carrying the job's label. */
export async function listJobServices(cli: KubeCli, namespace: string, name: string): Promise<V1Service[]> {
  return (await cli.getJson<KubeList<V1Service>>(['services', '-l', `${LABELS.jobName}=${name}`], { namespace })).items;
}

/** The pod of `rank` in incarnation `incarnation`, once it is Running. */
export function waitForRunningWorker(cli: KubeCli, namespace: string, job: string, rank: number, incarnation: number, timeoutMs: number): Promise<V1Pod> {
  return waitFor(
    async () => {
      const pods = await listJobPods(cli, namespace, job);
      return pods.find(
        (p) =>
          p.metadata?.labels?.[LABELS.rank] === String(rank) &&
          p.metadata.labels[LABELS.incarnation] === String(incarnation) &&
          p.metadata.deletionTimestamp === undefined &&
          p.status?.phase === 'Running',
      );
    },
    { what: `worker ${rank} of ${namespace}/${job} (incarnation ${incarnation}) running`, timeoutMs, intervalMs: 250, describe: () => describeDATJob(cli, namespace, job) },
  );
}

/** True when the job's Succeeded condition is True and its phase says so. */
export function isSucceeded(job: DATJob): boolean {
  return job.status?.phase === 'Succeeded';
}

/** True when the job ended in Failed: the suite stops waiting at once instead of timing out. */
export function isFailed(job: DATJob): boolean {
  return job.status?.phase === 'Failed';
}
