/**
 * Side-effecting wiring of one gRPC ring rank: build the collective, create
 * its server, bind it, and hand the server to the collective (so `close()`
 * stops it). Callers then `connect(peers)` once every rank's port is known.
 */
import { GrpcRingCollective, type GrpcRingOptions } from './grpc-ring-collective.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING_HANDSHAKES, listenRingServer, type RingListenerOptions } from './ring-listener.js';
import { createRingServer } from './transport.js';

/** How the ring port accepts connections, apart from its address: TLS, interceptors, limits. */
export type RingPortOptions = Omit<RingListenerOptions, 'host' | 'port'>;

/** A bound, not yet connected ring rank. */
export interface ListeningRing {
  readonly collective: GrpcRingCollective;
  /** The bound port (useful with port 0). */
  readonly port: number;
}

/**
 * Creates and binds one rank's ring server on `host:port` (0 picks a free
 * port); plain text unless `portOptions.tls` is given. A bind failure rejects
 * at once with a RingBindError (or a ConfigError) naming the address.
 */
export async function listenGrpcRing(opts: GrpcRingOptions, host: string, port: number, portOptions: RingPortOptions = {}): Promise<ListeningRing> {
  const collective = new GrpcRingCollective(opts);
  const server = createRingServer(collective.handlers);
  let listener;
  try {
    // Every peer may dial this rank at once (all-to-all, Abort on failure): the limits grow with the ring.
    const limits = {
      maxConnections: Math.max(DEFAULT_MAX_CONNECTIONS, 2 * opts.worldSize + 64),
      maxPendingHandshakes: Math.max(DEFAULT_MAX_PENDING_HANDSHAKES, opts.worldSize),
    };
    listener = await listenRingServer(server, { ...limits, ...portOptions, host, port });
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  collective.ownListener(listener);
  return { collective, port: listener.port };
}

/** Starts `worldSize` connected ranks in this process on 127.0.0.1 (tests, benchmarks). */
export async function startLocalGrpcRing(worldSize: number, opts: Omit<GrpcRingOptions, 'rank' | 'worldSize'> = {}): Promise<GrpcRingCollective[]> {
  const ranks = await Promise.all(Array.from({ length: worldSize }, (_, rank) => listenGrpcRing({ ...opts, rank, worldSize }, '127.0.0.1', 0)));
  const peers = ranks.map((r) => `127.0.0.1:${r.port}`);
  await Promise.all(ranks.map((r) => r.collective.connect(peers)));
  return ranks.map((r) => r.collective);
}
