/**
 * Ring authentication: the pure caller checks (table-driven), then a real
 * 3-rank mutual-TLS gRPC ring on 127.0.0.1 attacked by clients without a
 * certificate, with another job's certificate (both fail the TLS handshake),
 * and with a legitimate certificate claiming another rank (PERMISSION_DENIED).
 * Every attack is logged and counted, and the legitimate sums are exact
 * before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createRingCredentials, type RingCredentials } from '../../../common/certs.js';
import {
  REFUSED_METRIC,
  REFUSAL_REASONS,
  RING_METHODS,
  authorizeRingRequest,
  createRingAuthMetrics,
  identifyCaller,
  type RingSelf,
} from '../../../worker/security/ring-auth.js';
import { createRingChannelCredentials } from '../../../worker/security/ring-credentials.js';
import { createRingSecurity } from '../../../worker/security/ring-security.js';
import { listenGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { createRingClient } from '../../../worker/comm/transport.js';
import { OP_KINDS } from '../../../worker/comm/ring-message.js';
import type { GrpcRingCollective } from '../../../worker/comm/grpc-ring-collective.js';
import { createLogger, silentLogger } from '../../../common/log.js';

const job = { namespace: 'team-a', name: 'mnist' };
const N = 3;

test('identifyCaller: only a CA-verified certificate of this job naming a peer rank passes', async () => {
  const ring = await createRingCredentials(job, 4);
  const other = await createRingCredentials({ namespace: 'team-a', name: 'other' }, 1);
  const self: RingSelf = { job, rank: 1, worldSize: 3 };
  const der = (c: RingCredentials): Buffer => Buffer.from(c.certPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const cases = [
    { name: 'no certificate', cert: undefined, want: REFUSAL_REASONS.unverifiedCertificate },
    { name: 'empty certificate', cert: Buffer.alloc(0), want: REFUSAL_REASONS.unverifiedCertificate },
    { name: 'garbage', cert: Buffer.from('not a certificate'), want: REFUSAL_REASONS.unverifiedCertificate },
    { name: 'another job', cert: der(other.ranks[0]!), want: REFUSAL_REASONS.wrongJob },
    { name: 'own rank', cert: der(ring.ranks[1]!), want: REFUSAL_REASONS.wrongRank },
    { name: 'rank outside the ring', cert: der(ring.ranks[3]!), want: REFUSAL_REASONS.wrongRank },
    { name: 'peer rank 2', cert: der(ring.ranks[2]!), want: 2 },
    { name: 'peer rank 0', cert: der(ring.ranks[0]!), want: 0 },
  ];
  for (const c of cases) {
    const got = identifyCaller(c.cert, self);
    assert.equal('reason' in got ? got.reason : got.rank, c.want, c.name);
  }
});

test('authorizeRingRequest: claimed rank must be the certificate rank; ring-order pulls only from the right neighbour', () => {
  const self: RingSelf = { job, rank: 1, worldSize: 4 };
  const pull = (receiverRank: number, kind: number): object => ({ seq: 0, receiverRank, kind, totalElements: 8, wire: 0, worldSize: 4 });
  const cases = [
    { name: 'allreduce pull from right neighbour', method: RING_METHODS.pull, req: pull(2, OP_KINDS.allreduce), caller: 2, want: undefined },
    { name: 'gather pull from right neighbour', method: RING_METHODS.pull, req: pull(2, OP_KINDS.gather), caller: 2, want: undefined },
    { name: 'allreduce pull from another rank', method: RING_METHODS.pull, req: pull(3, OP_KINDS.allreduce), caller: 3, want: REFUSAL_REASONS.notNeighbour },
    { name: 'all-to-all pull from any rank', method: RING_METHODS.pull, req: pull(3, OP_KINDS.allToAll), caller: 3, want: undefined },
    { name: 'pull claiming another rank', method: RING_METHODS.pull, req: pull(2, OP_KINDS.allreduce), caller: 3, want: REFUSAL_REASONS.rankMismatch },
    { name: 'join as itself', method: RING_METHODS.join, req: { rank: 2, worldSize: 4, session: 's' }, caller: 2, want: undefined },
    { name: 'join claiming another rank', method: RING_METHODS.join, req: { rank: 0, worldSize: 4, session: 's' }, caller: 2, want: REFUSAL_REASONS.rankMismatch },
    { name: 'abort as itself', method: RING_METHODS.abort, req: { originRank: 3, seq: 0, reason: 'x' }, caller: 3, want: undefined },
    { name: 'abort claiming another rank', method: RING_METHODS.abort, req: { originRank: 0, seq: 0, reason: 'x' }, caller: 3, want: REFUSAL_REASONS.rankMismatch },
    { name: 'abort without origin', method: RING_METHODS.abort, req: null, caller: 3, want: REFUSAL_REASONS.badRequest },
    { name: 'health', method: RING_METHODS.health, req: {}, caller: 0, want: undefined },
    { name: 'unknown method', method: '/dat.ring.v1.Ring/Steal', req: {}, caller: 0, want: REFUSAL_REASONS.unknownMethod },
  ];
  for (const c of cases) assert.equal(authorizeRingRequest(c.method, c.req, c.caller, self)?.reason, c.want, c.name);
});

test('createRingSecurity refuses to start without credentials unless plain text is asked for', async () => {
  const ring = await createRingCredentials(job, 2);
  await assert.rejects(createRingSecurity({ rank: 0, worldSize: 2, jobName: 'mnist', log: silentLogger }), /ring TLS is required: set DAT_TLS_DIR/);
  await assert.rejects(createRingSecurity({ rank: 0, worldSize: 2, jobName: 'mnist', credentials: ring.ranks[1]!, log: silentLogger }), /certificate is for rank 1, but this worker is rank 0/);
  await assert.rejects(createRingSecurity({ rank: 0, worldSize: 2, jobName: 'other', credentials: ring.ranks[0]!, log: silentLogger }), /job team-a\/mnist, but this worker belongs to job other/);
  await assert.rejects(createRingSecurity({ rank: 0, worldSize: 2, jobName: 'mnist', credentials: ring.ranks[0]!, insecure: true, log: silentLogger }), /choose one/);
  const lines: string[] = [];
  const insecure = await createRingSecurity({ rank: 0, worldSize: 2, jobName: 'mnist', insecure: true, log: createLogger({}, (l) => lines.push(l)) });
  assert.equal(insecure.mode, 'insecure');
  assert.match(lines.join('\n'), /WARN Started ring without TLS/);
});

interface SecureRing {
  readonly ranks: GrpcRingCollective[];
  readonly ports: number[];
  readonly registry: Registry;
  readonly logs: string[];
  close(): Promise<void>;
}

/** N ranks with mTLS in this process, sharing one registry and one log sink. */
async function startSecureRing(creds: RingCredentials[]): Promise<SecureRing> {
  const registry = new Registry();
  const metrics = createRingAuthMetrics(registry);
  const logs: string[] = [];
  const log = createLogger({}, (l) => logs.push(l));
  const listening = await Promise.all(
    creds.map(async (c, rank) => {
      const sec = await createRingSecurity({ rank, worldSize: creds.length, jobName: job.name, credentials: c, log: log.child({ rank }), metrics });
      return listenGrpcRing({ rank, worldSize: creds.length, timeoutMs: 5000, channelCredentials: sec.channelCredentials, log: log.child({ rank }) }, '127.0.0.1', 0, sec.server);
    }),
  );
  const ports = listening.map((l) => l.port);
  const ranks = listening.map((l) => l.collective);
  await Promise.all(ranks.map((r) => r.connect(ports.map((p) => `127.0.0.1:${p}`))));
  return { ranks, ports, registry, logs, close: async () => void (await Promise.all(ranks.map((r) => r.close()))) };
}

async function checkSums(ranks: readonly GrpcRingCollective[], round: number): Promise<void> {
  const len = 1001;
  const inputs = ranks.map((_, r) => Float32Array.from({ length: len }, (_, i) => ((i * 3 + r * 7 + round) % 29) - 14));
  const want = Float32Array.from({ length: len }, (_, i) => inputs.reduce((s, a) => s + a[i]!, 0));
  const outs = await Promise.all(ranks.map((c, r) => c.allreduce(inputs[r]!)));
  for (const [r, out] of outs.entries()) assert.deepEqual(out, want, `round ${round} rank ${r}`);
}

/** Runs one call from an attacker client and returns its final status. */
function attack(address: string, creds: grpc.ChannelCredentials, method: 'pull' | 'join' | 'abort', request: object): Promise<grpc.ServiceError | undefined> {
  const client = createRingClient(address, creds);
  const done = (e: grpc.ServiceError | undefined): grpc.ServiceError | undefined => {
    client.close();
    return e;
  };
  const deadline = Date.now() + 3000;
  return new Promise((resolve) => {
    if (method === 'pull') {
      const call = client.pull(request, { deadline });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => resolve(done(e)));
      call.on('end', () => resolve(done(undefined)));
    } else if (method === 'join') {
      client.join(request, { deadline }, (e) => resolve(done(e ?? undefined)));
    } else {
      client.abort(request, { deadline }, (e) => resolve(done(e ?? undefined)));
    }
  });
}

test('mTLS ring: clients without a job certificate fail the TLS handshake; with one, claiming another rank, they are refused; all logged and counted; sums stay exact', { timeout: 60_000 }, async () => {
  const mine = await createRingCredentials(job, N + 1); // rank N is a valid certificate for a rank outside this ring
  const foreign = await createRingCredentials({ namespace: 'team-b', name: 'evil' }, N);
  const ring = await startSecureRing(mine.ranks.slice(0, N));
  try {
    await checkSums(ring.ranks, 0);
    const rank0 = `127.0.0.1:${ring.ports[0]}`;
    const ca = Buffer.from(mine.ca.certPem);
    // The attacker trusts our CA (certificates are public) and skips the server check, to get as far as it can.
    const skipServerCheck = { checkServerIdentity: () => undefined };
    const noCert = grpc.credentials.createSsl(ca, null, null, skipServerCheck);
    const f = foreign.ranks[0]!;
    const foreignCert = grpc.credentials.createSsl(ca, Buffer.from(f.keyPem), Buffer.from(f.certPem), skipServerCheck);
    const rank2 = createRingChannelCredentials(mine.ranks[2]!, job, 0);
    const outsider = createRingChannelCredentials(mine.ranks[N]!, job, 0);
    // Pulls for the next operation (seq 2: connect's barrier was 0, the first allreduce 1): accepted, they would steal rank 1's stream.
    const pull = (receiverRank: number): object => ({ seq: 2, receiverRank, kind: OP_KINDS.allreduce, totalElements: 1001, wire: 0, worldSize: N });
    // No HTTP/2 session without a certificate of the job CA: the call never reaches the server.
    const handshakeAttacks = [
      { name: 'no certificate: pull', creds: noCert, method: 'pull' as const, req: pull(1) },
      { name: 'no certificate: abort', creds: noCert, method: 'abort' as const, req: { originRank: 1, seq: 2, reason: 'evil' } },
      { name: 'another job: pull', creds: foreignCert, method: 'pull' as const, req: pull(1) },
      { name: 'another job: join', creds: foreignCert, method: 'join' as const, req: { rank: 1, worldSize: N, session: 'dat' } },
    ];
    for (const a of handshakeAttacks) {
      const err = await attack(rank0, a.creds, a.method, a.req);
      assert.equal(err?.code, grpc.status.UNAVAILABLE, `${a.name}: ${err?.message ?? 'accepted'}`);
    }
    const callAttacks = [
      { name: 'rank 2 claiming rank 1: pull', creds: rank2, method: 'pull' as const, req: pull(1), reason: REFUSAL_REASONS.rankMismatch },
      { name: 'rank 2 claiming rank 1: abort', creds: rank2, method: 'abort' as const, req: { originRank: 1, seq: 2, reason: 'evil' }, reason: REFUSAL_REASONS.rankMismatch },
      { name: 'rank 2 pulling ring-order chunks from rank 0', creds: rank2, method: 'pull' as const, req: pull(2), reason: REFUSAL_REASONS.notNeighbour },
      { name: 'rank outside the ring', creds: outsider, method: 'join' as const, req: { rank: N, worldSize: N, session: 'dat' }, reason: REFUSAL_REASONS.wrongRank },
    ];
    for (const a of callAttacks) {
      const err = await attack(rank0, a.creds, a.method, a.req);
      assert.equal(err?.code, grpc.status.PERMISSION_DENIED, `${a.name}: ${err?.message ?? 'accepted'}`);
      assert.match(err.details, /ring peer refused/, a.name);
    }
    // Nothing reached the ring: the next sums are exact and no rank was aborted.
    await checkSums(ring.ranks, 1);
    await checkSums(ring.ranks, 2);

    const metric = (await ring.registry.getMetricsAsJSON()).find((m) => m.name === REFUSED_METRIC);
    const counts = new Map((metric?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
    // A client may redial within its call: at least one refused handshake per attack.
    assert.ok((counts.get(REFUSAL_REASONS.unverifiedCertificate) ?? 0) >= handshakeAttacks.length, JSON.stringify([...counts]));
    counts.delete(REFUSAL_REASONS.unverifiedCertificate);
    const want = new Map<string, number>();
    for (const a of callAttacks) want.set(a.reason, (want.get(a.reason) ?? 0) + 1);
    assert.deepEqual(counts, want);
    const refusedLines = ring.logs.filter((l) => / WARN Refused ring peer /.test(l));
    assert.match(refusedLines[0]!, /reason=unverified_certificate .*peer=127\.0\.0\.1:\d+/);
    assert.ok(refusedLines.some((l) => /reason=rank_mismatch .*method=\/dat\.ring\.v1\.Ring\/Pull peer=/.test(l)), refusedLines.join('\n'));
  } finally {
    await ring.close();
  }
});

test('a client refuses a server whose certificate names another rank than the one it dialed', { timeout: 30_000 }, async () => {
  const mine = await createRingCredentials(job, 2);
  const ring = await startSecureRing(mine.ranks);
  try {
    // Rank 1's credentials expecting rank 1 at rank 0's address (a misrouted or impersonating server).
    const lines: string[] = [];
    const sec = await createRingSecurity({ rank: 1, worldSize: 2, jobName: job.name, credentials: mine.ranks[1]!, log: createLogger({}, (l) => lines.push(l)) });
    const err = await attack(`127.0.0.1:${ring.ports[0]}`, sec.channelCredentials(1), 'join', { rank: 1, worldSize: 2, session: 'dat' });
    assert.equal(err?.code, grpc.status.UNAVAILABLE, err?.message);
    assert.match(lines.join('\n'), /Refused ring peer reason=server_identity .*expected team-a\/mnist rank 1/);
    await checkSums(ring.ranks, 3);
  } finally {
    await ring.close();
  }
});
