/** Deterministic names of a DATJob's children: "create" means "create whatever name is missing". */
import { DEFAULT_RING_PORT } from '../worker/contract.js';

/** Pod name of `rank`: `<job>-worker-<rank>`, also its hostname. */
export function workerPodName(jobName: string, rank: number): string {
  return `${jobName}-worker-${rank}`;
}

/** The headless Service (and pod subdomain) is named after the job. */
export function serviceName(jobName: string): string {
  return jobName;
}

/** Cluster DNS name of a rank's pod through the headless Service. */
export function workerHost(jobName: string, namespace: string, rank: number): string {
  return `${workerPodName(jobName, rank)}.${serviceName(jobName)}.${namespace}.svc`;
}

/** `DAT_PEERS`: every rank's `host:port` in rank order. */
export function buildPeers(jobName: string, namespace: string, worldSize: number, port = DEFAULT_RING_PORT): string {
  return Array.from({ length: worldSize }, (_, r) => `${workerHost(jobName, namespace, r)}:${port}`).join(',');
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
