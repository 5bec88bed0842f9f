/** Deterministic names of a DATJob's children: "create" means "create whatever name is missing". */
import { DEFAULT_RING_PORT, PEER_RANK_PLACEHOLDER } from '../common/contract.js';

/** A rank, or the placeholder a worker replaces with each rank (DAT_PEER_TEMPLATE). */
export type RankOrPlaceholder = number | typeof PEER_RANK_PLACEHOLDER;

/** Pod name of `rank`: `<job>-worker-<rank>`, also its hostname. */
export function workerPodName(jobName: string, rank: RankOrPlaceholder): string {
  return `${jobName}-worker-${rank}`;
}

/** The headless Service (and pod subdomain) is named after the job. */
export function serviceName(jobName: string): string {
  return jobName;
}

/** Cluster DNS name of a rank's pod through the headless Service. */
export function workerHost(jobName: string, namespace: string, rank: RankOrPlaceholder): string {
  return `${workerPodName(jobName, rank)}.${serviceName(jobName)}.${namespace}.svc`;
}

/**
 * `DAT_PEER_TEMPLATE`: every rank's `host:port` as one pattern
 * (`<job>-worker-{rank}.<svc>.<ns>.svc:<port>`), so a pod's size does not
 * grow with the number of ranks; the worker expands it up to DAT_WORLD_SIZE.
 */
export function buildPeerTemplate(jobName: string, namespace: string, port = DEFAULT_RING_PORT): string {
  return `${workerHost(jobName, namespace, PEER_RANK_PLACEHOLDER)}:${port}`;
}

/** Work-queue key of an object: `namespace/name`. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Splits a work-queue key back into its parts. */
export function parseKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
