/** Spawns ring-peer-entry processes and collects their JSON events (multi-process ring tests and the benchmark). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { entryCommand } from '../../support/paths.js';

export interface PeerEvent {
  readonly event: string;
  readonly [k: string]: unknown;
}

export interface Peer {
  readonly rank: number;
  readonly child: ChildProcess;
  readonly events: PeerEvent[];
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /** Resolves with the first event matching `pred`. */
  waitFor(pred: (e: PeerEvent) => boolean, timeoutMs: number): Promise<PeerEvent>;
}

/** Starts `world` peers, sends them the peer list once all listen; resolves when every peer printed `listening`. */
export async function startPeers(world: number, env: Readonly<Record<string, string>>): Promise<Peer[]> {
  const [cmd, ...args] = entryCommand('test/worker/comm/ring-peer-entry');
  const peers = Array.from({ length: world }, (_, rank): Peer => {
    const child = spawn(cmd!, args, {
      env: { ...process.env, ...env, RING_PEER_RANK: String(rank), RING_PEER_WORLD: String(world) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const events: PeerEvent[] = [];
    const listeners = new Set<() => void>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        events.push(JSON.parse(line) as PeerEvent);
      } catch {
        return;
      }
      for (const l of listeners) l();
    });
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    const waitFor = (pred: (e: PeerEvent) => boolean, timeoutMs: number): Promise<PeerEvent> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = events.find(pred);
          if (hit) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`rank ${rank}: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(-3))}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    return { rank, child, events, exited, waitFor };
  });
  const ports = await Promise.all(peers.map((p) => p.waitFor((e) => e.event === 'listening', 30_000)));
  const list = JSON.stringify(ports.map((e) => `127.0.0.1:${String(e.port)}`));
  for (const p of peers) p.child.stdin!.write(list + '\n');
  return peers;
}

/** Kills every peer still running (SIGCONT first, in case one was stopped). */
export function killPeers(peers: readonly Peer[]): void {
  for (const p of peers) {
    if (p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
}
