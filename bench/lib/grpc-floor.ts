/**
 * `bench:allreduce --grpc-floor`: what grpc-js alone costs to move the bytes a
 * ring rank moves, with nothing of ours in the way, so the gRPC ring's CPU
 * can be read against a floor instead of against gloo only.
 *
 * 1. A sender process serves one server-streaming method (the ring's `Pull`
 *    shape: data flows from server to client) with identity serializers and
 *    the ring's channel and server options; a receiver process calls it.
 * 2. Per round the sender writes `totalBytes` as `messageBytes` messages of one
 *    preallocated buffer (honouring back-pressure); each side reports the CPU
 *    time it spent, the receiver also the wall time.
 * 3. The table: medians per side, and their sum, which is what one ring rank
 *    pays in grpc-js per all-reduce (it sends and receives as much).
 *
 * The default volume is what a rank sends in a 64 MiB all-reduce at N = 3:
 * 2(N − 1)/N · 64 MiB. Node flags given to the benchmark reach both peers
 * (`node --no-incremental-marking dist/bench/allreduce.js --grpc-floor`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../worker/comm/ring-allreduce.js';
import { RING_CHANNEL_OPTIONS, RING_SERVER_OPTIONS } from '../../worker/comm/transport.js';
import { printTable, writeResult } from './report.js';
import { withWorkerNodeFlags } from '../../worker/util/node-flags.js';

const MIB = 1024 * 1024;
/** Bytes a ring rank sends (and receives) in a 64 MiB all-reduce at N = 3. */
export const FLOOR_BYTES = Math.round(((2 * (3 - 1)) / 3) * 64 * MIB);

/** One round's measurements. */
export interface FloorRound {
  readonly seconds: number;
  readonly senderCpuSeconds: number;
  readonly receiverCpuSeconds: number;
  readonly bytes: number;
}

const identity = (b: Buffer): Buffer => b;
const SERVICE: grpc.ServiceDefinition = {
  pull: {
    path: '/dat.bench.Floor/Pull',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const cpuSecondsSince = (start: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
};

/** Step 1, sender side: serves `Pull` on 127.0.0.1; `onSent` gets the CPU seconds of each completed stream. */
export async function startFloorSender(opts: { totalBytes: number; messageBytes: number; onSent: (cpuSeconds: number) => void }): Promise<{ port: number; close: () => void }> {
  const payload = Buffer.alloc(opts.messageBytes, 7);
  const server = new grpc.Server(RING_SERVER_OPTIONS);
  server.addService(SERVICE, {
    pull: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const start = process.cpuUsage();
      let left = opts.totalBytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, opts.messageBytes);
          left -= n;
          if (!call.write(n === payload.length ? payload : payload.subarray(0, n))) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
        opts.onSent(cpuSecondsSince(start));
      };
      pump();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => server.forceShutdown() };
}

/** Step 2, receiver side: `rounds` calls of `Pull`; per round the bytes, the wall time and this process's CPU time. */
export async function receiveFloorRounds(port: number, rounds: number): Promise<{ seconds: number; cpuSeconds: number; bytes: number }[]> {
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Floor');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), RING_CHANNEL_OPTIONS);
  const out: { seconds: number; cpuSeconds: number; bytes: number }[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      const bytes = await new Promise<number>((resolve, reject) => {
        let got = 0;
        const stream = client.makeServerStreamRequest(SERVICE.pull!.path, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 120_000 });
        stream.on('data', (b: Buffer) => void (got += b.length));
        stream.on('end', () => resolve(got));
        stream.on('error', reject);
      });
      out.push({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: cpuSecondsSince(c0), bytes });
    }
  } finally {
    client.close();
  }
  return out;
}

// ------------------------------------------------------------- processes

const emit = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');

/** The `--grpc-floor-peer` process: FLOOR_ROLE sender or receiver, configured by FLOOR_* variables. */
export async function runFloorPeer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const totalBytes = Number(env.FLOOR_BYTES);
  const messageBytes = Number(env.FLOOR_MESSAGE_BYTES);
  if (env.FLOOR_ROLE === 'sender') {
    const sender = await startFloorSender({ totalBytes, messageBytes, onSent: (cpuSeconds) => emit({ event: 'sent', cpuSeconds }) });
    emit({ event: 'listening', port: sender.port });
    // Until the coordinator closes stdin.
    await new Promise<void>((resolve) => process.stdin.on('end', resolve).resume());
    sender.close();
    return;
  }
  for (const r of await receiveFloorRounds(Number(env.FLOOR_PORT), Number(env.FLOOR_ROUNDS))) emit({ event: 'received', ...r });
}

function startPeer(script: string, env: Record<string, string>, onEvent: (e: Record<string, unknown>) => void): ChildProcess {
  const child = spawn(process.execPath, [...withWorkerNodeFlags(), script, '--grpc-floor-peer'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout! }).on('line', (l) => onEvent(JSON.parse(l) as Record<string, unknown>));
  return child;
}

const exited = (c: ChildProcess): Promise<number | null> => new Promise((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', resolve)));

/** Steps 1 and 2 in two processes; the rounds in order. */
export async function runFloorProcesses(script: string, opts: { totalBytes: number; messageBytes: number; rounds: number }): Promise<FloorRound[]> {
  const common = { FLOOR_BYTES: String(opts.totalBytes), FLOOR_MESSAGE_BYTES: String(opts.messageBytes), FLOOR_ROUNDS: String(opts.rounds) };
  const sent: number[] = [];
  const received: { seconds: number; cpuSeconds: number; bytes: number }[] = [];
  let sender: ChildProcess | undefined;
  let receiver: ChildProcess | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      sender = startPeer(script, { ...common, FLOOR_ROLE: 'sender' }, (e) => {
        if (e.event === 'listening') resolve(Number(e.port));
        if (e.event === 'sent') sent.push(Number(e.cpuSeconds));
      });
      sender.once('exit', (code) => reject(new Error(`grpc floor: the sender exited with ${code} before listening`)));
    });
    receiver = startPeer(script, { ...common, FLOOR_ROLE: 'receiver', FLOOR_PORT: String(port) }, (e) => {
      if (e.event === 'received') received.push({ seconds: Number(e.seconds), cpuSeconds: Number(e.cpuSeconds), bytes: Number(e.bytes) });
    });
    const code = await exited(receiver);
    if (code !== 0) throw new Error(`grpc floor: the receiver exited with ${code}`);
    sender!.stdin!.end();
    await exited(sender!);
  } finally {
    for (const c of [sender, receiver]) if (c !== undefined && c.exitCode === null) c.kill('SIGKILL');
  }
  if (received.length !== opts.rounds || sent.length !== opts.rounds) throw new Error(`grpc floor: ${received.length} rounds received and ${sent.length} sent, expected ${opts.rounds}`);
  return received.map((r, i) => ({ seconds: r.seconds, receiverCpuSeconds: r.cpuSeconds, senderCpuSeconds: sent[i]!, bytes: r.bytes }));
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Step 3: the whole `--grpc-floor` run; `script` is the benchmark's own file, re-run as `--grpc-floor-peer`. */
export async function runGrpcFloorBench(argv: readonly string[], script: string): Promise<void> {
  const rounds = argv.includes('--quick') ? 3 : 7;
  const kibIdx = argv.indexOf('--message-kib');
  const messageBytes = kibIdx >= 0 ? Number(argv[kibIdx + 1]) * 1024 : DEFAULT_MAX_MESSAGE_BYTES;
  process.stderr.write(`Streaming ${(FLOOR_BYTES / MIB).toFixed(1)} MiB in ${messageBytes / 1024} KiB messages over grpc-js, ${rounds} rounds\n`);
  const r = await runFloorProcesses(script, { totalBytes: FLOOR_BYTES, messageBytes, rounds });
  const m = {
    seconds: median(r.map((x) => x.seconds)),
    senderCpuSeconds: median(r.map((x) => x.senderCpuSeconds)),
    receiverCpuSeconds: median(r.map((x) => x.receiverCpuSeconds)),
  };
  printTable(
    `grpc-js alone, one way on loopback: the bytes a ring rank sends in a 64 MiB all-reduce at N = 3 (median of ${rounds}; identity serializers, the ring's channel options)`,
    ['MiB', 'message KiB', 'wall ms', 'MB/s', 'sender cpu ms', 'receiver cpu ms', 'sum: one ring rank, cpu ms'],
    [[FLOOR_BYTES / MIB, messageBytes / 1024, m.seconds * 1000, FLOOR_BYTES / 1e6 / m.seconds, m.senderCpuSeconds * 1000, m.receiverCpuSeconds * 1000, (m.senderCpuSeconds + m.receiverCpuSeconds) * 1000]],
  );
  const load = loadavg();
  process.stdout.write(`\nA ring rank sends and receives this much per all-reduce, so the sum is grpc-js's share of its CPU before any reduction.\n`);
  process.stdout.write(`Machine load average at the end: ${load.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  const path = await writeResult('allreduce-grpc-floor', { bytes: FLOOR_BYTES, messageBytes, rounds: r, median: m, loadAverage: load });
  process.stdout.write(`Wrote ${path}\n`);
}
