/**
 * `npm run bench:allreduce`: the ring all-reduce across N worker processes on
 * this machine, over gRPC and over raw TCP (the same algorithm, the
 * transport's ceiling), and torch.distributed's gloo (the reference, when
 * PyTorch is installed: scripts/bench/install-torch.sh), in the same run; plus
 * the bytes each rank sends per step under each gradient compressor.
 *
 * 1. For N = 2, 3, 4: start N peer processes (this file with `--peer`) per
 *    transport; each binds a port, learns the others' from stdin, joins the ring.
 * 2. Per buffer size: one warm-up all-reduce, then `iters` timed ones, each
 *    after a barrier; rank 0 reports its times. algbw = S/t and
 *    busbw = algbw·2(N−1)/N (nccl-tests' definitions), from the median time.
 * 3. On the gRPC ring, each compressor reduces a 1M-parameter gradient once;
 *    rank 0 reports the bytes it put on the wire.
 * 4. Print the tables, check the targets (gRPC busbw at 64 MiB, N = 3 >= 80% of
 *    gloo's and >= 60% of raw TCP's; sign-ef >= 25x fewer bytes than none),
 *    write bench/results/allreduce.json.
 *
 * `--quick` (or DAT_BENCH_QUICK=1): sizes 1, 16 and 64 MiB, fewer iterations.
 * `--n 3` restricts the world sizes; `--message-kib K` sets the wire message size;
 * `--rounds R` runs gRPC, TCP and gloo alternately R times per world size and
 * pools their timings (on a shared machine, load then hits all three alike).
 * `--link loopback,1gbit,10gbit` instead times each compression's all-reduce
 * of 64 MiB with the ranks in network namespaces joined by tbf-shaped links
 * (bench/lib/link-allreduce.ts; needs root and iproute2).
 * `--grpc-floor` instead times grpc-js alone moving a rank's bytes one way
 * between two processes (bench/lib/grpc-floor.ts).
 * `--latency` instead times all-reduces of N floats (about the stop
 * agreement's size) on each transport and gloo (bench/lib/small-allreduce.ts).
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { COMPRESSIONS, type CompressionId } from '../common/contract.js';
import type { Collective } from '../worker/comm/collective.js';
import { createGradientReducer } from '../worker/comm/compression/create-reducer.js';
import { listenGrpcRing } from '../worker/comm/start-grpc-ring.js';
import { TcpRingCollective } from '../worker/comm/tcp-ring.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../worker/comm/ring-allreduce.js';
import { Rng } from '../worker/util/rng.js';
import { getErrorMessage } from '../common/errors.js';
import { printTable, writeResult } from './lib/report.js';
import { findGloo, runGlooGroup } from './lib/gloo-runner.js';
import { runFloorPeer, runGrpcFloorBench } from './lib/grpc-floor.js';
import { runLinkBench, runLinkPeer } from './lib/link-allreduce.js';
import { latencyIters, runLatencyBench } from './lib/small-allreduce.js';
import { withWorkerNodeFlags } from '../worker/util/node-flags.js';

const MIB = 1024 * 1024;
const TRANSPORTS = ['grpc', 'tcp'] as const;
/** The project's rings, and gloo (torch.distributed) as the reference. */
type Transport = (typeof TRANSPORTS)[number] | 'gloo';
/** Buffer sizes (MiB) of the full and quick runs. */
const FULL_SIZES = [1, 4, 16, 64, 256];
const QUICK_SIZES = [1, 16, 64];
/** Parameters of the gradient used for the per-compressor byte counts. */
const COMPRESSION_PARAMS = 1 << 20;
/**
 * Both rings run at the same security level: plaintext on loopback. The gRPC
 * peers get no credentials (`listenGrpcRing` defaults to insecure) and the TCP
 * ring has no TLS, so the comparison is transport against transport, not mTLS
 * against plaintext. (Production rings use mTLS, worker/security.)
 */
const SECURITY = 'all transports plaintext, no TLS (gloo too)';
/** The issue's targets. */
export const TARGET = { grpcOverTcpAt64MiB: 0.6, grpcOverGlooAt64MiB: 0.8, signEfReduction: 25 } as const;

/** Timed iterations per size: fewer for the big buffers. */
function itersFor(mib: number, quick: boolean): number {
  // A buffer of a few floats (--latency) measures per-operation overhead: many samples.
  if (mib < 1 / 1024) return latencyIters(quick);
  if (mib >= 256) return 2;
  if (mib >= 64) return quick ? 3 : 4;
  return quick ? 4 : 8;
}

/** nccl-tests: algbw = S/t; all-reduce busbw = algbw·2(n−1)/n. Bytes/s. */
export function bandwidths(bytes: number, seconds: number, n: number): { algbw: number; busbw: number } {
  const algbw = bytes / seconds;
  return { algbw, busbw: (algbw * 2 * (n - 1)) / n };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// ---------------------------------------------------------------- peer side

interface PeerConfig {
  readonly rank: number;
  readonly world: number;
  readonly transport: Transport;
  readonly sizesMiB: readonly number[];
  readonly quick: boolean;
  /** Wire message size (`--message-kib`); the transports' default when unset. */
  readonly maxMessageBytes?: number;
}

const emit = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');

async function runPeer(cfg: PeerConfig): Promise<void> {
  const timeoutMs = 120_000;
  const maxMessageBytes = cfg.maxMessageBytes;
  let collective: Collective & { connect(peers: readonly string[]): Promise<void> };
  let port: number;
  if (cfg.transport === 'tcp') {
    const tcp = new TcpRingCollective({ rank: cfg.rank, worldSize: cfg.world, timeoutMs, maxMessageBytes });
    port = await tcp.listen('127.0.0.1', 0);
    collective = tcp;
  } else {
    const ring = await listenGrpcRing({ rank: cfg.rank, worldSize: cfg.world, timeoutMs, maxMessageBytes }, '127.0.0.1', 0);
    port = ring.port;
    collective = ring.collective;
  }
  emit({ event: 'listening', port });
  const line = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  await collective.connect(JSON.parse(line) as string[]);
  // Step 2
  for (const mib of cfg.sizesMiB) {
    const buf = new Float32Array((mib * MIB) / 4).fill(cfg.rank + 1);
    // In place, as torch.distributed.all_reduce (the gloo column) reduces: each call gets a fresh copy, made before the clock starts.
    const check = await collective.allreduce(new Float32Array(buf), { inPlace: true });
    const want = (cfg.world * (cfg.world + 1)) / 2;
    if (check[0] !== want || check[check.length - 1] !== want) throw new Error(`wrong sum ${check[0]} at ${mib} MiB`);
    const seconds: number[] = [];
    const cpuSeconds: number[] = [];
    for (let i = 0; i < itersFor(mib, cfg.quick); i++) {
      const work = new Float32Array(buf);
      await collective.barrier();
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      await collective.allreduce(work, { inPlace: true });
      const c = process.cpuUsage(c0);
      seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      cpuSeconds.push((c.user + c.system) / 1e6);
    }
    if (cfg.rank === 0) emit({ event: 'allreduce', mib, seconds, cpuSeconds });
  }
  // Step 3 (not for the latency rows)
  if (cfg.transport === 'grpc' && cfg.sizesMiB.every((mib) => mib >= 1 / 1024)) {
    const rng = new Rng(cfg.rank + 1);
    const grad = Float32Array.from({ length: COMPRESSION_PARAMS }, () => rng.next() - 0.5);
    for (const compression of COMPRESSIONS) {
      const { reducer, stats } = createGradientReducer({ collective, compression, seed: 1 });
      await collective.barrier();
      const t0 = process.hrtime.bigint();
      await reducer(grad, 0);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (cfg.rank === 0) emit({ event: 'compression', compression, bytes: stats.lastStepBytes, seconds });
    }
  }
  await collective.barrier();
  await collective.close();
}

// --------------------------------------------------------- coordinator side

interface AllreduceRow {
  readonly transport: Transport;
  readonly n: number;
  readonly mib: number;
  readonly seconds: readonly number[];
  readonly medianSeconds: number;
  /** Rank 0's CPU time per all-reduce (median): on a shared, loaded machine wall time alone misleads. */
  readonly medianCpuSeconds: number;
  readonly algbwMBps: number;
  readonly busbwMBps: number;
}

interface CompressionRow {
  readonly n: number;
  readonly compression: CompressionId;
  readonly bytes: number;
  readonly seconds: number;
}

async function runGroup(n: number, transport: Transport, sizes: readonly number[], quick: boolean, messageBytes: number | undefined): Promise<Array<Record<string, unknown>>> {
  const self = fileURLToPath(import.meta.url);
  const events: Array<Record<string, unknown>> = [];
  const children = Array.from({ length: n }, (_, rank) =>
    spawn(process.execPath, [...withWorkerNodeFlags(), self, '--peer'], {
      env: { ...process.env, BENCH_RANK: String(rank), BENCH_WORLD: String(n), BENCH_TRANSPORT: transport, BENCH_SIZES: sizes.join(','), BENCH_QUICK: quick ? '1' : '0', ...(messageBytes !== undefined ? { BENCH_MESSAGE_BYTES: String(messageBytes) } : {}) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  try {
    const ports = await Promise.all(
      children.map(
        (child, rank) =>
          new Promise<number>((resolve, reject) => {
            createInterface({ input: child.stdout }).on('line', (l) => {
              const e = JSON.parse(l) as Record<string, unknown>;
              if (e.event === 'listening') resolve(Number(e.port));
              else if (rank === 0) events.push(e);
            });
            child.once('exit', (code) => reject(new Error(`peer ${rank} exited with ${code} before listening`)));
          }),
      ),
    );
    const list = JSON.stringify(ports.map((p) => `127.0.0.1:${p}`));
    for (const c of children) c.stdin.end(list + '\n');
    const codes = await Promise.all(children.map((c) => new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', resolve)))));
    if (codes.some((c) => c !== 0)) throw new Error(`${transport} ring of ${n}: peers exited with ${codes.join(', ')}`);
    return events;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // Emulated links (bench/lib/link-allreduce.ts): per-compression all-reduce of 64 MiB on tbf-shaped links.
  if (argv.includes('--link-peer')) {
    await runLinkPeer();
    process.exit(0);
  }
  if (argv.includes('--link')) return runLinkBench(argv, fileURLToPath(import.meta.url));
  // grpc-js's own cost for a rank's bytes (bench/lib/grpc-floor.ts).
  if (argv.includes('--grpc-floor-peer')) {
    await runFloorPeer();
    process.exit(0);
  }
  if (argv.includes('--grpc-floor')) return runGrpcFloorBench(argv, fileURLToPath(import.meta.url));
  if (argv.includes('--peer')) {
    const env = process.env;
    await runPeer({
      rank: Number(env.BENCH_RANK), world: Number(env.BENCH_WORLD), transport: env.BENCH_TRANSPORT as Transport,
      sizesMiB: (env.BENCH_SIZES ?? '1').split(',').map(Number), quick: env.BENCH_QUICK === '1',
      ...(env.BENCH_MESSAGE_BYTES ? { maxMessageBytes: Number(env.BENCH_MESSAGE_BYTES) } : {}),
    });
    // stdin's reader would keep the process alive.
    process.exit(0);
  }
  const quick = argv.includes('--quick') || process.env.DAT_BENCH_QUICK === '1';
  const nIdx = argv.indexOf('--n');
  const worlds = nIdx >= 0 ? [Number(argv[nIdx + 1])] : [2, 3, 4];
  if (argv.includes('--latency')) return runLatencyBench(worlds, quick, (n, transport, sizes) => runGroup(n, transport, sizes, quick, undefined));
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const kibIdx = argv.indexOf('--message-kib');
  const messageBytes = kibIdx >= 0 ? Number(argv[kibIdx + 1]) * 1024 : undefined;
  const roundsIdx = argv.indexOf('--rounds');
  const rounds = roundsIdx >= 0 ? Math.max(1, Number(argv[roundsIdx + 1])) : 1;
  const gloo = findGloo();
  if ('missing' in gloo) process.stderr.write(`No gloo column: ${gloo.missing}\n`);
  const timings = new Map<string, { transport: Transport; n: number; mib: number; seconds: number[]; cpuSeconds: number[] }>();
  const compression: CompressionRow[] = [];
  const record = (transport: Transport, n: number, e: Record<string, unknown>): void => {
    const key = `${transport}/${n}/${Number(e.mib)}`;
    const t = timings.get(key) ?? { transport, n, mib: Number(e.mib), seconds: [], cpuSeconds: [] };
    t.seconds.push(...(e.seconds as number[]));
    t.cpuSeconds.push(...(e.cpuSeconds as number[]));
    timings.set(key, t);
  };
  // Step 1: the transports alternate for each N, so they see the same machine load.
  for (const n of worlds) {
    for (let round = 0; round < rounds; round++) {
      for (const transport of TRANSPORTS) {
        process.stderr.write(`Running ${transport} ring of ${n} processes, sizes ${sizes.join(', ')} MiB (round ${round + 1}/${rounds})\n`);
        for (const e of await runGroup(n, transport, sizes, quick, messageBytes)) {
          if (e.event === 'allreduce') record(transport, n, e);
          // The byte counts do not depend on load: one round suffices.
          else if (e.event === 'compression' && round === 0) compression.push({ n, compression: e.compression as CompressionId, bytes: Number(e.bytes), seconds: Number(e.seconds) });
        }
      }
      if ('python' in gloo) {
        process.stderr.write(`Running gloo (torch ${gloo.torch}) on ${n} processes (round ${round + 1}/${rounds})\n`);
        for (const e of await runGlooGroup(gloo.python, n, sizes, sizes.map((mib) => itersFor(mib, quick)))) if (e.event === 'allreduce') record('gloo', n, e);
      }
    }
  }
  const allreduce: AllreduceRow[] = [...timings.values()].map((r) => {
    const t = median(r.seconds);
    const { algbw, busbw } = bandwidths(r.mib * MIB, t, r.n);
    return { transport: r.transport, n: r.n, mib: r.mib, seconds: r.seconds, medianSeconds: t, medianCpuSeconds: median(r.cpuSeconds), algbwMBps: algbw / 1e6, busbwMBps: busbw / 1e6 };
  });
  // Step 4
  const find = (t: Transport, n: number, mib: number): AllreduceRow | undefined => allreduce.find((r) => r.transport === t && r.n === n && r.mib === mib);
  printTable(
    `Ring all-reduce (median of timed iterations; MB/s = 1e6 bytes/s; ${SECURITY})`,
    ['N', 'size MiB', 'gRPC ms', 'gRPC cpu ms', 'gRPC busbw', 'TCP ms', 'TCP cpu ms', 'TCP busbw', 'gloo ms', 'gloo cpu ms', 'gloo busbw', 'gRPC/TCP', 'gRPC/gloo', 'TCP/gloo'],
    worlds.flatMap((n) =>
      sizes.map((mib) => {
        const g = find('grpc', n, mib);
        const t = find('tcp', n, mib);
        const l = find('gloo', n, mib);
        const pct = (a: AllreduceRow | undefined, b: AllreduceRow | undefined): string | undefined => (a && b ? `${((100 * a.busbwMBps) / b.busbwMBps).toFixed(0)}%` : undefined);
        const glooCell = (v: number | undefined): number | string | undefined => ('missing' in gloo ? 'n/a' : v);
        return [n, mib, g && g.medianSeconds * 1000, g && g.medianCpuSeconds * 1000, g?.busbwMBps, t && t.medianSeconds * 1000, t && t.medianCpuSeconds * 1000, t?.busbwMBps,
          glooCell(l && l.medianSeconds * 1000), glooCell(l && l.medianCpuSeconds * 1000), glooCell(l?.busbwMBps), pct(g, t), pct(g, l), pct(t, l)];
      }),
    ),
  );
  if ('missing' in gloo) process.stdout.write(`gloo column missing: ${gloo.missing}\n`);
  const none = (n: number): number => compression.find((c) => c.n === n && c.compression === 'none')?.bytes ?? NaN;
  printTable(
    `Bytes sent per rank per step, ${COMPRESSION_PARAMS.toLocaleString('en-US')}-parameter gradient (gRPC ring)`,
    ['N', 'compression', 'bytes', 'x fewer than none', 'ms'],
    compression.map((c) => [c.n, c.compression, c.bytes.toLocaleString('en-US'), (none(c.n) / c.bytes).toFixed(1), c.seconds * 1000]),
  );
  const g64 = find('grpc', 3, 64);
  const t64 = find('tcp', 3, 64);
  const ratio64 = g64 && t64 ? g64.busbwMBps / t64.busbwMBps : undefined;
  const l64 = find('gloo', 3, 64);
  const glooRatio64 = g64 && l64 ? g64.busbwMBps / l64.busbwMBps : undefined;
  const signEf = compression.filter((c) => c.compression === 'sign-ef').map((c) => none(c.n) / c.bytes);
  const targets = {
    grpcOverTcpBusbwAt64MiBN3: ratio64,
    grpcOverTcpMet: ratio64 === undefined ? undefined : ratio64 >= TARGET.grpcOverTcpAt64MiB,
    grpcOverGlooBusbwAt64MiBN3: glooRatio64,
    grpcOverGlooMet: glooRatio64 === undefined ? undefined : glooRatio64 >= TARGET.grpcOverGlooAt64MiB,
    signEfReductionMin: signEf.length > 0 ? Math.min(...signEf) : undefined,
    signEfMet: signEf.length > 0 ? Math.min(...signEf) >= TARGET.signEfReduction : undefined,
  };
  process.stdout.write(`\nTargets: gRPC/gloo busbw at 64 MiB, N=3: ${glooRatio64 === undefined ? `not measured${'missing' in gloo ? ` (${gloo.missing})` : ''}` : `${(100 * glooRatio64).toFixed(0)}% (target >= 80%)`}; ` +
    `gRPC/TCP busbw at 64 MiB, N=3: ${ratio64 === undefined ? 'not measured' : `${(100 * ratio64).toFixed(0)}% (target >= 60%)`}; ` +
    `sign-ef reduction: ${targets.signEfReductionMin === undefined ? 'not measured' : `${targets.signEfReductionMin.toFixed(1)}x (target >= 25x)`}\n`);
  const load = loadavg();
  process.stdout.write(`Machine load average at the end: ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores (others' jobs slow every transport alike)\n`);
  const path = await writeResult('allreduce', { quick, rounds, gloo: 'missing' in gloo ? { missing: gloo.missing } : { torch: gloo.torch }, security: SECURITY, messageBytes: messageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, worlds, sizesMiB: sizes, allreduce, compression, targets, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:allreduce failed: ${getErrorMessage(err)}\n`);
  process.exit(1);
});
