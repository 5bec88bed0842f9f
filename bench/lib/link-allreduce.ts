/**
 * `bench:allreduce --link loopback,1gbit,10gbit`: the gradient reducer of
 * every compression on a 64 MiB gradient, over the gRPC ring, with the ranks
 * on emulated links (netns-link.ts) or on loopback.
 *
 * 1. Per link: build the namespaces and tbf-shaped veths (none for
 *    `loopback`), start N peers (`ip netns exec <host> node ... --link-peer`),
 *    each listening on its host's address; hand every peer the address list.
 * 2. Each peer, per compression: one warm-up reduce, then `iters` timed
 *    reduces, each after a barrier; rank 0 reports the times and its bytes.
 * 3. Tear the links down (also on failure and on exit), print the table with
 *    none/compression ratios, check the targets, write
 *    bench/results/allreduce-link.json.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { COMPRESSIONS, type CompressionId } from '../../common/contract.js';
import { createGradientReducer } from '../../worker/comm/compression/create-reducer.js';
import { listenGrpcRing } from '../../worker/comm/start-grpc-ring.js';
import { Rng } from '../../worker/util/rng.js';
import { buildNetnsExec, createEmulatedLinks, parseLinkList, type EmulatedLinks } from './netns-link.js';
import { printTable, writeResult } from './report.js';
import { withWorkerNodeFlags } from '../../worker/util/node-flags.js';

const MIB = 1024 * 1024;
/** The buffer size for the link comparison. */
export const LINK_MIB = 64;
/** `--link` rate meaning "no namespaces, 127.0.0.1". */
export const LOOPBACK = 'loopback';
/** The targets: sign-ef >= 10x faster than none at 1 Gbit/s; faster than none on loopback. */
export const LINK_TARGET = { signEfOverNoneAt1gbit: 10, signEfOverNoneOnLoopback: 1 } as const;
/** Compressions in the table (majority-vote is not in the list). */
const LINK_COMPRESSIONS: readonly CompressionId[] = COMPRESSIONS.filter((c) => c !== 'majority-vote');
/** Per-hop deadline: 64 MiB uncompressed at 1 Gbit/s takes about a second per all-reduce. */
const TIMEOUT_MS = 300_000;

const emit = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// ---------------------------------------------------------------- peer side

/** Step 2 (one peer; configured by BENCH_* variables, see {@link runLinkGroup}). */
export async function runLinkPeer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const rank = Number(env.BENCH_RANK);
  const world = Number(env.BENCH_WORLD);
  const iters = Number(env.BENCH_ITERS);
  const d = (Number(env.BENCH_MIB) * MIB) / 4;
  const ring = await listenGrpcRing({ rank, worldSize: world, timeoutMs: TIMEOUT_MS }, env.BENCH_HOST ?? '127.0.0.1', 0);
  emit({ event: 'listening', port: ring.port });
  const line = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  const collective = ring.collective;
  await collective.connect(JSON.parse(line) as string[]);
  const rng = new Rng(rank + 1);
  const grad = Float32Array.from({ length: d }, () => rng.next() - 0.5);
  for (const compression of (env.BENCH_COMPRESSIONS ?? 'none').split(',') as CompressionId[]) {
    const { reducer, stats } = createGradientReducer({ collective, compression, seed: 1, timeoutMs: TIMEOUT_MS });
    await reducer(grad, 0);
    const seconds: number[] = [];
    const cpuSeconds: number[] = [];
    for (let i = 1; i <= iters; i++) {
      await collective.barrier();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await reducer(grad, i);
      seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const c = process.cpuUsage(c0);
      cpuSeconds.push((c.user + c.system) / 1e6);
    }
    if (rank === 0) emit({ event: 'reduce', compression, seconds, cpuSeconds, bytes: stats.lastStepBytes });
  }
  await collective.barrier();
  await collective.close();
}

// --------------------------------------------------------- coordinator side

/** One table row. */
export interface LinkRow {
  readonly link: string;
  readonly n: number;
  readonly compression: CompressionId;
  readonly seconds: readonly number[];
  readonly medianSeconds: number;
  /** Rank 0's CPU time per reduce (median): on a loaded machine, wall time far above it is time spent waiting for a core. */
  readonly medianCpuSeconds: number;
  readonly bytes: number;
}

/** Step 1 and 2 for one link: spawns the peers (inside the namespaces when `links` is given) and collects rank 0's rows. */
async function runLinkGroup(script: string, link: string, n: number, iters: number, links: EmulatedLinks | undefined): Promise<LinkRow[]> {
  const host = (rank: number): string => links?.plan.hosts[rank]!.address ?? '127.0.0.1';
  const rows: LinkRow[] = [];
  const children = Array.from({ length: n }, (_, rank) => {
    const node = [process.execPath, ...withWorkerNodeFlags(), script, '--link-peer'];
    const argv = links === undefined ? node : buildNetnsExec(links.plan, rank, node);
    const env = { ...process.env, BENCH_RANK: String(rank), BENCH_WORLD: String(n), BENCH_HOST: host(rank), BENCH_MIB: String(LINK_MIB), BENCH_ITERS: String(iters), BENCH_COMPRESSIONS: LINK_COMPRESSIONS.join(',') };
    return spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'inherit'] });
  });
  // Peers must not outlive the coordinator (an interrupted run exits without reaching `finally`).
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  try {
    const ports = await Promise.all(
      children.map(
        (child, rank) =>
          new Promise<number>((resolve, reject) => {
            createInterface({ input: child.stdout }).on('line', (l) => {
              const e = JSON.parse(l) as Record<string, unknown>;
              if (e.event === 'listening') resolve(Number(e.port));
              else if (e.event === 'reduce') {
                const seconds = e.seconds as number[];
                rows.push({ link, n, compression: e.compression as CompressionId, seconds, medianSeconds: median(seconds), medianCpuSeconds: median(e.cpuSeconds as number[]), bytes: Number(e.bytes) });
              }
            });
            child.once('exit', (code) => reject(new Error(`link ${link}: peer ${rank} exited with ${code} before listening`)));
          }),
      ),
    );
    const list = JSON.stringify(ports.map((p, rank) => `${host(rank)}:${p}`));
    for (const c of children) c.stdin.end(list + '\n');
    const codes = await Promise.all(children.map((c) => new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', resolve)))));
    if (codes.some((c) => c !== 0)) throw new Error(`link ${link}: peers exited with ${codes.join(', ')}`);
    return rows;
  } finally {
    process.off('exit', killAll);
    killAll();
  }
}

/** none's time over each compression's, per link (how many times faster). */
export function speedups(rows: readonly LinkRow[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) {
    const none = rows.find((x) => x.link === r.link && x.n === r.n && x.compression === 'none');
    if (none !== undefined) out.set(`${r.link}/${r.compression}`, none.medianSeconds / r.medianSeconds);
  }
  return out;
}

/** The whole `--link` run (Steps 1 to 3); `script` is the benchmark's own file, re-run as `--link-peer`. */
export async function runLinkBench(argv: readonly string[], script: string): Promise<void> {
  const rates = parseLinkList(argv[argv.indexOf('--link') + 1] ?? '', [LOOPBACK]);
  const nIdx = argv.indexOf('--n');
  const n = nIdx >= 0 ? Number(argv[nIdx + 1]) : 3;
  const iters = argv.includes('--quick') ? 2 : 3;
  const rows: LinkRow[] = [];
  for (const link of rates) {
    process.stderr.write(`Running ${n} gRPC ranks on link ${link}, ${LINK_MIB} MiB, compressions ${LINK_COMPRESSIONS.join(', ')}\n`);
    const links = link === LOOPBACK ? undefined : createEmulatedLinks({ hosts: n, rate: link });
    try {
      rows.push(...(await runLinkGroup(script, link, n, iters, links)));
    } finally {
      links?.close();
    }
  }
  // Step 3
  const ratio = speedups(rows);
  printTable(
    `All-reduce of a ${LINK_MIB} MiB gradient per compression, ${n} gRPC ranks (median of ${iters}; links: tbf-shaped veths between network namespaces)`,
    ['link', 'compression', 'ms', 'rank 0 cpu ms', 'bytes sent by rank 0', 'none / this'],
    rows.map((r) => [r.link, r.compression, r.medianSeconds * 1000, r.medianCpuSeconds * 1000, r.bytes.toLocaleString('en-US'), ratio.get(`${r.link}/${r.compression}`)?.toFixed(2)]),
  );
  const at1g = ratio.get('1gbit/sign-ef');
  const atLo = ratio.get(`${LOOPBACK}/sign-ef`);
  const targets = {
    signEfOverNoneAt1gbit: at1g,
    signEfAt1gbitMet: at1g === undefined ? undefined : at1g >= LINK_TARGET.signEfOverNoneAt1gbit,
    signEfOverNoneOnLoopback: atLo,
    signEfOnLoopbackMet: atLo === undefined ? undefined : atLo > LINK_TARGET.signEfOverNoneOnLoopback,
  };
  const fmt = (x: number | undefined, target: string): string => (x === undefined ? 'not measured' : `${x.toFixed(2)}x (target ${target})`);
  process.stdout.write(`\nTargets: none/sign-ef at 1gbit: ${fmt(at1g, '>= 10x')}; on loopback: ${fmt(atLo, '> 1x')}\n`);
  const load = loadavg();
  process.stdout.write(`Machine load average at the end: ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  const path = await writeResult('allreduce-link', { n, mib: LINK_MIB, iters, links: rates, rows, targets, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
}
