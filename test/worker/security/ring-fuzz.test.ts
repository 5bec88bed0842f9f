/**
 * Fuzzing a ring member with hostile messages (seeded, reproducible):
 *
 * 1. Data path: a man-in-the-middle proxy sits between rank 0 and its left
 *    neighbour (rank 1) of a real 2-rank gRPC ring and mutates one chunk of an
 *    all-reduce: header bytes, NaN/Inf in the data, garbage, truncation,
 *    drops and duplicates. Property: every rank ends, within a bound, with
 *    either the exact sum or a RingError; a message that decodes differently
 *    from what the sender sent is always rejected; never a wrong sum, never a
 *    crash, never a hang.
 * 2. Front door: an outsider sends random requests (random methods, field
 *    values and raw bytes, with no, foreign or mismatched certificates) to a
 *    member of a 3-rank mTLS ring between all-reduces. Property: every call is
 *    refused or fails, none hangs, and every legitimate sum is exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { listenGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { RingError } from '../../../worker/comm/ring-errors.js';
import { createRingClient, createRingServer, type PullCall } from '../../../worker/comm/transport.js';
import { listenRingServer } from '../../../worker/comm/ring-listener.js';
import { decodeRingMessage, encodeRingMessage, OP_KINDS, type RingMessage } from '../../../worker/comm/ring-message.js';
import type { GrpcRingCollective } from '../../../worker/comm/grpc-ring-collective.js';
import { createRingCredentials } from '../../../common/certs.js';
import { createRingAuthMetrics } from '../../../worker/security/ring-auth.js';
import { createRingChannelCredentials } from '../../../worker/security/ring-credentials.js';
import { createRingSecurity } from '../../../worker/security/ring-security.js';
import { silentLogger } from '../../../common/log.js';
import { Rng } from '../../../worker/util/rng.js';
import { Registry } from 'prom-client';

const LEN = 1001;
/** 256 floats per message: each 2-rank chunk spans two parts, so mutations hit first, middle and last messages. */
const MAX_MSG = 1024;
const HOP_TIMEOUT_MS = 800;
/** A round that takes longer than this hangs. */
const ROUND_BOUND_MS = 8_000;

const MUTATION_KINDS = ['header', 'nan', 'inf', 'garbage', 'truncate', 'drop', 'duplicate'] as const;
type MutationKind = (typeof MUTATION_KINDS)[number];

/** Bytes of `buf` that precede the data payload (the encoded header). */
function headerLength(msg: RingMessage, buf: Buffer): number {
  return buf.length - msg.data.byteLength;
}

/** Mutated wire messages to send instead of `buf` (empty: dropped). */
function mutateMessage(kind: MutationKind, msg: RingMessage, buf: Buffer, rng: Rng): Buffer[] {
  const b = Buffer.from(buf);
  switch (kind) {
    case 'header': {
      const h = headerLength(msg, b);
      for (let k = 1 + rng.nextInt(3); k > 0; k--) b[rng.nextInt(h)]! ^= 1 << rng.nextInt(8);
      return [b];
    }
    case 'nan':
    case 'inf': {
      // Aligned float positions within the data: a peer that sends a non-finite gradient.
      const h = headerLength(msg, b);
      const floats = msg.data.byteLength >>> 2;
      b.writeFloatLE(kind === 'nan' ? NaN : rng.nextInt(2) === 0 ? Infinity : -Infinity, h + 4 * rng.nextInt(floats));
      return [b];
    }
    case 'garbage':
      return [Buffer.from(Array.from({ length: 1 + rng.nextInt(2048) }, () => rng.nextInt(256)))];
    case 'truncate':
      return [b.subarray(0, rng.nextInt(b.length))];
    case 'drop':
      return [];
    case 'duplicate':
      return [b, b];
  }
}

/** True when `sent` decodes to exactly `orig` (same fields, same data bytes). */
function decodesTheSame(sent: Buffer, orig: RingMessage): boolean {
  let m: RingMessage;
  try {
    m = decodeRingMessage(sent);
  } catch {
    return false;
  }
  return m.seq === orig.seq && m.step === orig.step && m.phase === orig.phase && m.chunkIndex === orig.chunkIndex && m.part === orig.part
    && m.senderRank === orig.senderRank && m.chunkBytes === orig.chunkBytes && Buffer.from(m.data).equals(Buffer.from(orig.data));
}

interface Tamper {
  /** Operation sequence number to tamper with, and the index of the message in its stream. */
  readonly seq: number;
  readonly index: number;
  readonly kind: MutationKind;
  /** Set by the proxy: whether what it sent decodes differently from the original. */
  changed?: boolean;
}

/** A proxy ring server forwarding every call to `upstream`, tampering with one Pull message. */
async function startProxy(upstream: string, tamper: Tamper, rng: Rng): Promise<{ port: number; close(): Promise<void> }> {
  const client = createRingClient(upstream);
  const server = createRingServer({
    Pull: (call: PullCall) => {
      const up = client.pull(call.request, { deadline: Date.now() + 10_000 });
      let index = 0;
      call.on('cancelled', () => up.cancel());
      up.on('data', (m: RingMessage) => {
        const buf = encodeRingMessage(m);
        if (call.request.seq === tamper.seq && index++ === tamper.index) {
          const out = mutateMessage(tamper.kind, m, buf, rng);
          tamper.changed = out.length !== 1 || !decodesTheSame(out[0]!, m);
          for (const o of out) call.write(o);
        } else {
          call.write(buf);
        }
      });
      up.on('end', () => call.end());
      up.on('error', (e: grpc.ServiceError) => {
        if (!call.cancelled) call.emit('error', { code: e.code, details: e.details });
      });
    },
    Join: (call, cb) => client.join(call.request, { deadline: Date.now() + 5_000 }, (e, r) => cb(e, r)),
    Health: (call, cb) => client.health(call.request, { deadline: Date.now() + 5_000 }, (e, r) => cb(e, r)),
    Abort: (call, cb) => client.abort(call.request, { deadline: Date.now() + 5_000 }, (e, r) => cb(e, r)),
  });
  const listener = await listenRingServer(server, { host: '127.0.0.1', port: 0 });
  return {
    port: listener.port,
    close: async () => {
      client.close();
      await listener.close(100);
    },
  };
}

type Outcome = { ok: true; value: Float32Array } | { ok: false; err: unknown };

function settle(p: Promise<Float32Array>): Promise<Outcome> {
  return p.then((value) => ({ ok: true as const, value }), (err: unknown) => ({ ok: false as const, err }));
}

function inputsFor(round: number): Float32Array[] {
  return [0, 1].map((r) => Float32Array.from({ length: LEN }, (_, i) => ((i * 5 + r * 11 + round) % 23) - 11));
}

test('data-path fuzz: a tampered chunk gives the exact sum or a RingError on every rank; never a wrong sum, crash or hang', { timeout: 90_000 }, async () => {
  const rng = new Rng(0x5eed);
  const rounds = 42;
  let rejected = 0;
  for (let round = 0; round < rounds; round++) {
    // Every kind in turn; the tampered message index varies over the 4 messages of the all-reduce stream.
    const tamper: Tamper = { seq: 1, index: rng.nextInt(4), kind: MUTATION_KINDS[round % MUTATION_KINDS.length]! };
    const opts = { worldSize: 2, timeoutMs: HOP_TIMEOUT_MS, connectTimeoutMs: 5_000, maxMessageBytes: MAX_MSG };
    const r0 = await listenGrpcRing({ ...opts, rank: 0 }, '127.0.0.1', 0);
    const r1 = await listenGrpcRing({ ...opts, rank: 1 }, '127.0.0.1', 0);
    const proxy = await startProxy(`127.0.0.1:${r1.port}`, tamper, rng);
    const what = `round ${round} (${tamper.kind} message ${tamper.index})`;
    try {
      // Rank 0 reaches rank 1 only through the proxy; rank 1 reaches rank 0 directly.
      await Promise.all([
        r0.collective.connect([`127.0.0.1:${r0.port}`, `127.0.0.1:${proxy.port}`]),
        r1.collective.connect([`127.0.0.1:${r0.port}`, `127.0.0.1:${r1.port}`]),
      ]);
      const inputs = inputsFor(round);
      const want = Float32Array.from({ length: LEN }, (_, i) => inputs[0]![i]! + inputs[1]![i]!);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: the all-reduce hung for ${ROUND_BOUND_MS} ms`)), ROUND_BOUND_MS);
      });
      const outcomes = await Promise.race([Promise.all([settle(r0.collective.allreduce(inputs[0]!)), settle(r1.collective.allreduce(inputs[1]!))]), bound]).finally(() => clearTimeout(timer));
      for (const [rank, o] of outcomes.entries()) {
        if (o.ok) assert.deepEqual(o.value, want, `${what}: rank ${rank} got a wrong sum`);
        else assert.ok(o.err instanceof RingError, `${what}: rank ${rank} failed with ${String(o.err)}, not a RingError`);
      }
      if (tamper.changed === true && tamper.kind !== 'duplicate') {
        // A message that is not what the sender sent must never be summed (a duplicate of the last message may arrive after the sum is done).
        assert.equal(outcomes[0]!.ok, false, `${what}: rank 0 accepted a tampered message`);
      }
      if (!outcomes[0]!.ok) rejected++;
    } finally {
      await Promise.all([r0.collective.close(), r1.collective.close(), proxy.close()]);
    }
  }
  assert.ok(rejected >= rounds / 2, `only ${rejected} of ${rounds} tampered rounds were rejected`);
});

/** A client for raw bytes on any ring method (random request bodies). */
const RawClient = grpc.makeGenericClientConstructor(
  Object.fromEntries(['Pull', 'Join', 'Health', 'Abort'].map((m) => [m, {
    path: `/dat.ring.v1.Ring/${m}`,
    requestStream: false,
    responseStream: m === 'Pull',
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  }])),
  'RawRing',
);

function rawCall(address: string, creds: grpc.ChannelCredentials, method: string, body: Buffer): Promise<grpc.ServiceError | undefined> {
  const client = new RawClient(address, creds, { 'grpc.ssl_target_name_override': 'dat-ring' });
  const deadline = Date.now() + 3_000;
  return new Promise<grpc.ServiceError | undefined>((resolve) => {
    if (method === 'Pull') {
      // The generic client's methods are untyped; this one is server-streaming.
      const call = (client as unknown as Record<string, (b: Buffer, o: grpc.CallOptions) => grpc.ClientReadableStream<Buffer>>)[method]!(body, { deadline });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
    } else {
      (client as unknown as Record<string, (b: Buffer, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void>)[method]!(body, { deadline }, (e) => resolve(e ?? undefined));
    }
  }).finally(() => client.close());
}

test('front-door fuzz: random requests from outsiders are refused, never hang, and leave every sum exact', { timeout: 60_000 }, async () => {
  const job = { namespace: 'ns', name: 'fuzz' };
  const mine = await createRingCredentials(job, 4);
  const foreign = await createRingCredentials({ namespace: 'ns', name: 'evil' }, 1);
  const registry = new Registry();
  const metrics = createRingAuthMetrics(registry);
  const n = 3;
  const listening = await Promise.all(
    Array.from({ length: n }, async (_, rank) => {
      const sec = await createRingSecurity({ rank, worldSize: n, jobName: job.name, credentials: mine.ranks[rank]!, log: silentLogger, metrics });
      return listenGrpcRing({ rank, worldSize: n, timeoutMs: 5_000, maxMessageBytes: MAX_MSG, channelCredentials: sec.channelCredentials }, '127.0.0.1', 0, sec.server);
    }),
  );
  const ring: GrpcRingCollective[] = listening.map((l) => l.collective);
  await Promise.all(ring.map((c) => c.connect(listening.map((l) => `127.0.0.1:${l.port}`))));
  const ca = Buffer.from(mine.ca.certPem);
  const skip = { checkServerIdentity: () => undefined };
  const f = foreign.ranks[0]!;
  const identities = [
    grpc.credentials.createSsl(ca, null, null, skip),
    grpc.credentials.createSsl(ca, Buffer.from(f.keyPem), Buffer.from(f.certPem), skip),
    createRingChannelCredentials(mine.ranks[3]!, job, 'any'), // a rank outside the ring
  ];
  const rng = new Rng(99);
  try {
    for (let round = 0; round < 6; round++) {
      const target = rng.nextInt(n);
      const calls: Array<Promise<grpc.ServiceError | undefined>> = [];
      for (let k = 0; k < 12; k++) {
        const method = ['Pull', 'Join', 'Health', 'Abort'][rng.nextInt(4)]!;
        let body: Buffer;
        if (rng.nextInt(2) === 0) {
          body = Buffer.from(Array.from({ length: rng.nextInt(64) }, () => rng.nextInt(256)));
        } else {
          // A well-formed PullRequest with hostile values (receiver = a real rank, next operation, huge sizes).
          body = Buffer.from([0x08, rng.nextInt(4), 0x10, rng.nextInt(n), 0x18, [OP_KINDS.allreduce, OP_KINDS.gather, OP_KINDS.allToAll][rng.nextInt(3)]!, 0x20, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x30, n]);
        }
        calls.push(rawCall(`127.0.0.1:${listening[target]!.port}`, identities[rng.nextInt(identities.length)]!, method, body));
      }
      const inputs = ring.map((_, r) => Float32Array.from({ length: LEN }, (_, i) => ((i + r * 3 + round) % 17) - 8));
      const want = Float32Array.from({ length: LEN }, (_, i) => inputs.reduce((s, a) => s + a[i]!, 0));
      const [errs, outs] = await Promise.all([Promise.all(calls), Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!)))]);
      for (const [r, out] of outs.entries()) assert.deepEqual(out, want, `round ${round} rank ${r}`);
      for (const e of errs) {
        assert.ok(e !== undefined, `round ${round}: an outsider call succeeded`);
        assert.ok([grpc.status.PERMISSION_DENIED, grpc.status.UNAVAILABLE].includes(e.code), `round ${round}: outsider call ended with ${e.code} ${e.details}`);
      }
    }
    const refused = (await registry.getMetricsAsJSON()).find((m) => m.name === 'dat_ring_refused_connections_total');
    assert.ok((refused?.values ?? []).reduce((s, v) => s + v.value, 0) > 0, 'refusals were counted');
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
