/**
 * `bench:allreduce --latency`: the latency of an all-reduce of N floats on N
 * ranks, about the size of the stop agreement (N + 1 floats, about once a
 * second of training: worker/train/graceful-stop.ts),
 * on the gRPC ring, the TCP ring and gloo, side by side in one run. At this
 * size the time is all per-operation overhead (streams, event-loop turns,
 * 2(N − 1) hops), none of it bandwidth.
 *
 * Each transport runs the same protocol as the bandwidth rows: one warm-up
 * all-reduce, then timed ones, each after a barrier; rank 0 reports its times.
 */
import { cpus, loadavg } from 'node:os';
import { printTable, writeResult } from './report.js';
import { findGloo, runGlooGroup } from './gloo-runner.js';

const MIB = 1024 * 1024;

/** The buffer of the stop agreement on `n` ranks, in MiB (one float per rank; exact in binary). */
export function agreementMiB(n: number): number {
  return (n * 4) / MIB;
}

/** Timed all-reduces per transport and world size. */
export function latencyIters(quick: boolean): number {
  return quick ? 100 : 400;
}

/** Runs one transport's ring of `n` peers over `sizes` MiB and returns rank 0's events. */
export type RunRing = (n: number, transport: 'grpc' | 'tcp', sizes: readonly number[]) => Promise<Array<Record<string, unknown>>>;

/** One transport's latency at one world size. */
export interface LatencyRow {
  readonly transport: 'grpc' | 'tcp' | 'gloo';
  readonly n: number;
  readonly floats: number;
  readonly iterations: number;
  readonly medianMs: number;
  readonly p90Ms: number;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
};

function toRow(transport: LatencyRow['transport'], n: number, events: readonly Record<string, unknown>[]): LatencyRow | undefined {
  const e = events.find((x) => x.event === 'allreduce');
  if (e === undefined) return undefined;
  const ms = (e.seconds as number[]).map((s) => s * 1000);
  return { transport, n, floats: n, iterations: ms.length, medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9) };
}

/** Runs the latency rows for `worlds`, prints the table and writes bench/results/allreduce-latency.json. */
export async function runLatencyBench(worlds: readonly number[], quick: boolean, runRing: RunRing): Promise<void> {
  const gloo = findGloo();
  if ('missing' in gloo) process.stderr.write(`No gloo column: ${gloo.missing}\n`);
  const rows: LatencyRow[] = [];
  for (const n of worlds) {
    const sizes = [agreementMiB(n)];
    for (const transport of ['grpc', 'tcp'] as const) {
      process.stderr.write(`Running ${transport} ring of ${n} processes, ${n} floats\n`);
      const row = toRow(transport, n, await runRing(n, transport, sizes));
      if (row !== undefined) rows.push(row);
    }
    if ('python' in gloo) {
      process.stderr.write(`Running gloo (torch ${gloo.torch}) on ${n} processes, ${n} floats\n`);
      const row = toRow('gloo', n, await runGlooGroup(gloo.python, n, sizes, [latencyIters(quick)]));
      if (row !== undefined) rows.push(row);
    }
  }
  const find = (t: LatencyRow['transport'], n: number): LatencyRow | undefined => rows.find((r) => r.transport === t && r.n === n);
  printTable(
    'All-reduce of N floats on N ranks (about the stop agreement\'s size): latency in ms (plaintext, loopback)',
    ['N', 'gRPC median', 'gRPC p90', 'TCP median', 'TCP p90', 'gloo median', 'gloo p90', 'gRPC/gloo'],
    worlds.map((n) => {
      const g = find('grpc', n);
      const t = find('tcp', n);
      const l = find('gloo', n);
      return [String(n), g?.medianMs, g?.p90Ms, t?.medianMs, t?.p90Ms, l?.medianMs ?? 'n/a', l?.p90Ms ?? 'n/a', g && l ? `${(g.medianMs / l.medianMs).toFixed(1)}x` : undefined];
    }),
    2,
  );
  const load = loadavg();
  process.stdout.write(`Machine load average at the end: ${load.map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  const path = await writeResult('allreduce-latency', { quick, gloo: 'missing' in gloo ? { missing: gloo.missing } : { torch: gloo.torch }, worlds, rows, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
}
