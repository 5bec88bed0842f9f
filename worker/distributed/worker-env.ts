/**
 * Parsing of the distributed worker's environment (WORKER_ENV in
 * common/contract.ts). Pure: takes the env object, returns typed values or
 * throws a ConfigError naming the variable.
 */
import { DEFAULT_RING_PORT, PEER_RANK_PLACEHOLDER, WORKER_ENV } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';

/** Set by the local launcher: exit when stdin closes (the launcher died), so no worker outlives it. */
export const PARENT_WATCH_ENV = 'DAT_PARENT_WATCH';
/** Debug switch (tests): log a digest of the trainable weights before every step and at the end. */
export const WEIGHT_DIGEST_ENV = 'DAT_DEBUG_WEIGHT_DIGEST';

/** The distributed worker's view of its ring. */
export interface WorkerEnv {
  readonly rank: number;
  readonly worldSize: number;
  /** `host:port` of every rank's ring server, in rank order. */
  readonly peers: readonly string[];
  readonly ringBind: string;
  readonly ringPort: number;
  readonly metricsPort?: number;
  readonly jobName: string;
  readonly restartCount: number;
  readonly tlsDir?: string;
  /** The job's namespace (DAT_NAMESPACE), needed to issue this rank's certificate from a job CA key. */
  readonly namespace?: string;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${name} is required in distributed mode`);
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`${name}=${raw}: expected an integer >= ${min}`);
  return v;
}

/** Reads and validates WORKER_ENV. */
export function parseWorkerEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const worldSize = intVar(env, WORKER_ENV.worldSize, 1);
  const rank = intVar(env, WORKER_ENV.rank, 0);
  if (rank >= worldSize) throw new ConfigError(`${WORKER_ENV.rank}=${rank} is not below ${WORKER_ENV.worldSize}=${worldSize}`);
  const peers = parsePeers(env, worldSize);
  const ringPort = intVar(env, WORKER_ENV.ringPort, 0, DEFAULT_RING_PORT);
  const metricsRaw = env[WORKER_ENV.metricsPort];
  return {
    rank,
    worldSize,
    peers,
    ringBind: env[WORKER_ENV.ringBind] || '0.0.0.0',
    ringPort,
    ...(metricsRaw !== undefined && metricsRaw !== '' ? { metricsPort: intVar(env, WORKER_ENV.metricsPort, 0) } : {}),
    jobName: env[WORKER_ENV.jobName] || 'dat',
    restartCount: intVar(env, WORKER_ENV.restartCount, 0, 0),
    ...(env[WORKER_ENV.tlsDir] ? { tlsDir: env[WORKER_ENV.tlsDir] } : {}),
    ...(env[WORKER_ENV.namespace] ? { namespace: env[WORKER_ENV.namespace] } : {}),
  };
}

/**
 * Every rank's `host:port`, from DAT_PEERS (an explicit list) or
 * DAT_PEER_TEMPLATE (one pattern, expanded for each rank).
 */
function parsePeers(env: NodeJS.ProcessEnv, worldSize: number): string[] {
  const list = env[WORKER_ENV.peers] ?? '';
  const template = env[WORKER_ENV.peerTemplate] ?? '';
  if (list !== '' && template !== '') throw new ConfigError(`${WORKER_ENV.peers} and ${WORKER_ENV.peerTemplate} are both set; set one`);
  if (template !== '') {
    if (!template.includes(PEER_RANK_PLACEHOLDER)) throw new ConfigError(`${WORKER_ENV.peerTemplate}: "${template}" has no ${PEER_RANK_PLACEHOLDER} placeholder`);
    const peers = expandPeerTemplate(template, worldSize);
    checkHostPorts(peers, WORKER_ENV.peerTemplate);
    return peers;
  }
  const peers = list.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (peers.length === 0) throw new ConfigError(`${WORKER_ENV.peers} or ${WORKER_ENV.peerTemplate} is required in distributed mode`);
  if (peers.length !== worldSize) throw new ConfigError(`${WORKER_ENV.peers} lists ${peers.length} addresses, expected ${worldSize} (one host:port per rank, in rank order)`);
  checkHostPorts(peers, WORKER_ENV.peers);
  return peers;
}

function checkHostPorts(peers: readonly string[], from: string): void {
  for (const p of peers) if (!/^[^\s,]+:\d+$/.test(p)) throw new ConfigError(`${from}: "${p}" is not host:port`);
}

/** `template` with {@link PEER_RANK_PLACEHOLDER} replaced by each rank 0..worldSize-1. */
export function expandPeerTemplate(template: string, worldSize: number): string[] {
  return Array.from({ length: worldSize }, (_, r) => template.replaceAll(PEER_RANK_PLACEHOLDER, String(r)));
}
