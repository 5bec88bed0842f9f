/**
 * A ring rank in its own OS process, for the failure tests: prints
 * `{"event":"listening","port":P}`, reads the peer list (JSON array) from
 * stdin, then all-reduces a buffer in a loop, printing `{"event":"step"}` after
 * each, until it fails (prints `{"event":"error",...}`, exits 3) or has done
 * `RING_PEER_STEPS` steps (exits 0).
 * Env: RING_PEER_RANK, RING_PEER_WORLD, RING_PEER_TIMEOUT_MS, RING_PEER_ELEMENTS, RING_PEER_STEPS, RING_PEER_TRANSPORT (grpc|tcp).
 */
import { createInterface } from 'node:readline';
import { listenGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { TcpRingCollective } from '../../../worker/comm/tcp-ring.js';
import { RingError } from '../../../worker/comm/ring-errors.js';
import type { Collective } from '../../../worker/comm/collective.js';
import { getErrorMessage } from '../../../common/errors.js';

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const rank = env('RING_PEER_RANK', 0);
const worldSize = env('RING_PEER_WORLD', 2);
const timeoutMs = env('RING_PEER_TIMEOUT_MS', 2000);
const elements = env('RING_PEER_ELEMENTS', 1 << 20);
const steps = env('RING_PEER_STEPS', 1_000_000);
const print = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<number> {
  let collective: Collective & { connect(peers: readonly string[]): Promise<void> };
  let port: number;
  if (process.env.RING_PEER_TRANSPORT === 'tcp') {
    const tcp = new TcpRingCollective({ rank, worldSize, timeoutMs });
    port = await tcp.listen('127.0.0.1', 0);
    collective = tcp;
  } else {
    const ring = await listenGrpcRing({ rank, worldSize, timeoutMs, connectTimeoutMs: 20_000 }, '127.0.0.1', 0);
    port = ring.port;
    collective = ring.collective;
  }
  print({ event: 'listening', port });
  const line = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  await collective.connect(JSON.parse(line) as string[]);
  const buf = new Float32Array(elements).fill(rank + 1);
  try {
    for (let s = 0; s < steps; s++) {
      const out = await collective.allreduce(buf);
      const want = (worldSize * (worldSize + 1)) / 2;
      if (out[0] !== want || out[out.length - 1] !== want) throw new Error(`wrong sum ${out[0]} at step ${s}`);
      print({ event: 'step', step: s, t: Date.now() });
    }
    await collective.close();
    return 0;
  } catch (err) {
    print({
      event: 'error', t: Date.now(), message: getErrorMessage(err),
      failure: err instanceof RingError ? err.failure : undefined,
      peerRank: err instanceof RingError ? err.peerRank : undefined,
      retryable: err instanceof RingError ? err.retryable : undefined,
    });
    await collective.close();
    return 3;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    print({ event: 'fatal', message: getErrorMessage(err) });
    process.exit(1);
  },
);
