/**
 * `npm run bench:codecs`: single-thread speed of the gradient codecs, in GB/s
 * of fp32 gradient (4 bytes per value) per stage, on 16 and 64 MiB buffers.
 *
 * 1. Per size, one random gradient (a tenth of it ten times larger, as in
 *    training) and pre-allocated outputs, so only the codec is timed.
 * 2. Stages per codec: fp16 encode (f32 → binary16), decode, and add-decode
 *    (what each ring hop does); qsgd8 encode (norm + stochastic rounding) and
 *    decode-add; sign-ef error feedback fused with encode (e ← e + g, scales,
 *    packed signs, residual left in e: one function, as the hook runs it) and
 *    decode-add.
 * 3. Rounds alternate over every stage (one run of each per round), so machine
 *    load hits all codecs alike; the median per stage is reported.
 * 4. "pipeline" is 4·d bytes over the summed medians of the stages a rank runs
 *    per step (fp16: encode + decode; qsgd8: encode + decode; sign-ef:
 *    EF + encode + decode); the target is >= 1 GB/s each, judged on wall
 *    time. GB/s by process CPU time is printed beside it. Writes
 *    bench/results/codecs.json.
 *
 * 5. fp16 and qsgd8 run twice: in C (the native addon, native/kernels, when
 *    built) and in TypeScript (the fallback), side by side in the same rounds.
 *
 * `--quick`: 16 MiB only, fewer rounds.
 */
import { cpus, loadavg } from 'node:os';
import { addHalfInto, addHalfIntoJs, decodeHalf, decodeHalfJs, encodeHalf, encodeHalfJs } from '../worker/comm/half.js';
import { addDequantizedQsgd8, addDequantizedQsgd8Js, quantizeQsgd8, quantizeQsgd8Js } from '../worker/comm/compression/qsgd8.js';
import { nativeKernelsStatus, type NativeKernels } from '../worker/comm/native-kernels.js';
import { addDecodedPiecesJs, compressPieces, compressPiecesWithFeedbackJs } from '../worker/comm/compression/sign-ef.js';
import { Rng } from '../worker/util/rng.js';
import { getErrorMessage } from '../common/errors.js';
import { printTable, writeResult } from './lib/report.js';

const MIB = 1024 * 1024;
/** The target: encode + decode + error feedback per core. */
export const TARGET_GBPS = 1;
const CODECS = ['fp16', 'qsgd8', 'sign-ef'] as const;
type Codec = (typeof CODECS)[number];
/** Which kernels ran: the C addon or the TypeScript fallback. */
type Impl = 'native' | 'ts';

interface Stage {
  readonly codec: Codec;
  readonly impl: Impl;
  readonly stage: string;
  /** Part of the per-step pipeline of {@link TARGET_GBPS}. */
  readonly inPipeline: boolean;
  readonly run: () => void;
}

/** Builds the stages for a d-value gradient (Step 1 and 2); buffers are allocated here, once. */
function buildStages(d: number): Stage[] {
  const rng = new Rng(1);
  const g = Float32Array.from({ length: d }, () => (rng.next() - 0.5) * (rng.next() < 0.1 ? 10 : 1));
  const half = encodeHalf(g);
  const f32 = new Float32Array(d);
  const qsgdRng = new Rng(2);
  const segments = [d];
  const qsgd = quantizeQsgd8(g, segments, qsgdRng);
  const e = new Float32Array(d);
  const pieces = [d];
  // One encode so `block` has the right shape; EF and encode are then timed on the live error memory.
  const block = compressPieces(g.slice(), pieces);
  const native: Stage[] =
    nativeKernelsStatus.kernels === undefined
      ? []
      : [
          { codec: 'fp16', impl: 'native', stage: 'encode', inPipeline: true, run: () => void encodeHalf(g, half) },
          { codec: 'fp16', impl: 'native', stage: 'decode', inPipeline: true, run: () => void decodeHalf(half, f32) },
          { codec: 'fp16', impl: 'native', stage: 'add-decode (per hop)', inPipeline: false, run: () => addHalfInto(f32, half) },
          { codec: 'qsgd8', impl: 'native', stage: 'encode', inPipeline: true, run: () => void quantizeQsgd8(g, segments, qsgdRng) },
          { codec: 'qsgd8', impl: 'native', stage: 'decode', inPipeline: true, run: () => addDequantizedQsgd8(qsgd, segments, 1, f32) },
          ...nativeSignEf(nativeKernelsStatus.kernels, e, g, pieces, block, f32),
        ];
  // sign-ef's EF is fused into its encode (one pass adds g into e and sums |e|); timed as one stage.
  return [
    ...native,
    { codec: 'fp16', impl: 'ts', stage: 'encode', inPipeline: true, run: () => void encodeHalfJs(g, half) },
    { codec: 'fp16', impl: 'ts', stage: 'decode', inPipeline: true, run: () => void decodeHalfJs(half, f32) },
    { codec: 'fp16', impl: 'ts', stage: 'add-decode (per hop)', inPipeline: false, run: () => addHalfIntoJs(f32, half) },
    { codec: 'qsgd8', impl: 'ts', stage: 'encode', inPipeline: true, run: () => void quantizeQsgd8Js(g, segments, qsgdRng) },
    { codec: 'qsgd8', impl: 'ts', stage: 'decode', inPipeline: true, run: () => addDequantizedQsgd8Js(qsgd, segments, 1, f32) },
    { codec: 'sign-ef', impl: 'ts', stage: 'EF + encode (fused)', inPipeline: true, run: () => void compressPiecesWithFeedbackJs(e, g, pieces) },
    { codec: 'sign-ef', impl: 'ts', stage: 'decode', inPipeline: true, run: () => addDecodedPiecesJs(block, pieces, 1, f32) },
  ];
}

/** sign-ef's stages on the C kernels (the same work as compressPiecesWithFeedback and addDecodedPieces). */
function nativeSignEf(k: NativeKernels, e: Float32Array, g: Float32Array, pieces: readonly number[], block: Uint8Array, f32: Float32Array): Stage[] {
  const lengths = Float64Array.from(pieces);
  const out = new Uint8Array(block.length);
  return [
    { codec: 'sign-ef', impl: 'native', stage: 'EF + encode (fused)', inPipeline: true, run: () => k.signEfEncode(e, g, lengths, out) },
    { codec: 'sign-ef', impl: 'native', stage: 'decode', inPipeline: true, run: () => k.signEfAddDecoded(block, lengths, 1, f32) },
  ];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

interface StageRow {
  readonly mib: number;
  readonly codec: Codec;
  readonly impl: Impl;
  readonly stage: string;
  readonly inPipeline: boolean;
  readonly medianMs: number;
  readonly gbps: number;
  /** From process CPU time instead of wall time: on a shared machine, waiting for a core is not the codec's cost. */
  readonly medianCpuMs: number;
  readonly cpuGbps: number;
}

/** Step 3: alternating rounds, median seconds per stage. */
function timeStages(mib: number, rounds: number): StageRow[] {
  const d = (mib * MIB) / 4;
  const stages = buildStages(d);
  const times = stages.map(() => [] as number[]);
  const cpu = stages.map(() => [] as number[]);
  for (const s of stages) s.run(); // warm-up: JIT and page faults
  for (let r = 0; r < rounds; r++) {
    stages.forEach((s, k) => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      s.run();
      times[k]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const c = process.cpuUsage(c0);
      cpu[k]!.push((c.user + c.system) / 1e6);
    });
  }
  return stages.map((s, k) => {
    const t = median(times[k]!);
    const tc = median(cpu[k]!);
    return { mib, codec: s.codec, impl: s.impl, stage: s.stage, inPipeline: s.inPipeline, medianMs: t * 1000, gbps: (4 * d) / t / 1e9, medianCpuMs: tc * 1000, cpuGbps: (4 * d) / tc / 1e9 };
  });
}

/** Step 4: GB/s of the per-step pipeline of each codec. */
function pipelines(rows: readonly StageRow[], sizes: readonly number[]): Array<{ mib: number; codec: Codec; impl: Impl; gbps: number; cpuGbps: number; met: boolean }> {
  return sizes.flatMap((mib) =>
    CODECS.flatMap((codec) =>
      (['native', 'ts'] as const).flatMap((impl) => {
        const mine = rows.filter((r) => r.mib === mib && r.codec === codec && r.impl === impl && r.inPipeline);
        if (mine.length === 0) return [];
        const gbps = (mib * MIB) / (mine.reduce((s, r) => s + r.medianMs, 0) / 1000) / 1e9;
        const cpuGbps = (mib * MIB) / (mine.reduce((s, r) => s + r.medianCpuMs, 0) / 1000) / 1e9;
        return [{ mib, codec, impl, gbps, cpuGbps, met: gbps >= TARGET_GBPS }];
      }),
    ),
  );
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.DAT_BENCH_QUICK === '1';
  const sizes = quick ? [16] : [16, 64];
  const rounds = quick ? 5 : 9;
  process.stdout.write(`Native codec kernels: ${nativeKernelsStatus.reason}\n`);
  const rows = sizes.flatMap((mib) => timeStages(mib, rounds));
  printTable('Codec stages, one thread (median; GB/s = 1e9 bytes of fp32 gradient per second)', ['size MiB', 'codec', 'kernels', 'stage', 'ms', 'GB/s', 'cpu ms', 'GB/s by cpu'], rows.map((r) => [r.mib, r.codec, r.impl, r.stage, r.medianMs, r.gbps, r.medianCpuMs, r.cpuGbps]), 2);
  const pipe = pipelines(rows, sizes);
  printTable(`Per-step pipeline (target >= ${TARGET_GBPS} GB/s)`, ['size MiB', 'codec', 'kernels', 'GB/s', 'GB/s by cpu', 'met (wall)'], pipe.map((p) => [p.mib, p.codec, p.impl, p.gbps, p.cpuGbps, p.met ? 'yes' : 'NO']), 2);
  const load = loadavg();
  process.stdout.write(`Machine load average at the end: ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  const path = await writeResult('codecs', { quick, rounds, nativeCodecs: nativeKernelsStatus.reason, sizesMiB: sizes, stages: rows, pipelines: pipe, targetGBps: TARGET_GBPS, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:codecs failed: ${getErrorMessage(err)}\n`);
  process.exit(1);
});
