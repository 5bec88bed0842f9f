/**
 * The ring port under hostile input, in process, on 127.0.0.1: intruders that
 * only hold connections (idle TCP, TLS without a client certificate), an
 * unauthenticated client pushing a big body over many streams, an
 * authenticated but refused caller that keeps uploading, and a squatted port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Registry } from 'prom-client';
import { createRingCredentials, type RingCredentials } from '../../../common/certs.js';
import { createRingAuthMetrics, REFUSED_METRIC } from '../../../worker/security/ring-auth.js';
import { createRingSecurity } from '../../../worker/security/ring-security.js';
import { listenGrpcRing, type ListeningRing } from '../../../worker/comm/start-grpc-ring.js';
import { RingBindError } from '../../../worker/comm/ring-listener.js';
import { createLogger } from '../../../common/log.js';

const job = { namespace: 'team-a', name: 'mnist' };
const HANDSHAKE_MS = 800;

interface Ring {
  readonly ranks: ListeningRing[];
  readonly registry: Registry;
  readonly logs: string[];
}

async function startRing(creds: readonly RingCredentials[]): Promise<Ring> {
  const registry = new Registry();
  const metrics = createRingAuthMetrics(registry);
  const logs: string[] = [];
  const log = createLogger({}, (l) => logs.push(l));
  const ranks = await Promise.all(
    creds.map(async (c, rank) => {
      const sec = await createRingSecurity({ rank, worldSize: creds.length, jobName: job.name, credentials: c, log, metrics });
      const opts = { rank, worldSize: creds.length, timeoutMs: 5_000, channelCredentials: sec.channelCredentials, log };
      return listenGrpcRing(opts, '127.0.0.1', 0, { ...sec.server, handshakeTimeoutMs: HANDSHAKE_MS });
    }),
  );
  const peers = ranks.map((r) => `127.0.0.1:${r.port}`);
  await Promise.all(ranks.map((r) => r.collective.connect(peers)));
  return { ranks, registry, logs };
}

async function checkSum(ring: Ring): Promise<void> {
  const outs = await Promise.all(ring.ranks.map((r, i) => r.collective.allreduce(Float32Array.from([i + 1, 10]))));
  for (const o of outs) assert.deepEqual(o, Float32Array.from([3, 20]));
}

/** A socket that resolves `closed` with the time it was closed; `data` counts what it received. */
interface Held {
  readonly socket: net.Socket;
  readonly closed: Promise<number>;
  received: number;
}

function hold(socket: net.Socket): Held {
  const h: Held = { socket, received: 0, closed: new Promise((resolve) => socket.once('close', () => resolve(Date.now()))) };
  socket.on('data', (d: Buffer) => (h.received += d.length));
  socket.on('error', () => undefined);
  return h;
}

/** Idle TCP connections (slowloris that sends nothing). */
function openIdle(port: number, n: number): Held[] {
  return Array.from({ length: n }, () => hold(net.connect(port, '127.0.0.1')));
}

/** TLS connections without a client certificate, trusting the job CA, that send the HTTP/2 preface once "connected". */
function openNoCert(port: number, ca: string, n: number): Held[] {
  return Array.from({ length: n }, () => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    s.once('secureConnect', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    return hold(s);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

test('intruders holding connections are dropped and cannot keep a finished rank from closing', { timeout: 30_000 }, async () => {
  const creds = await createRingCredentials(job, 2);
  const ring = await startRing(creds.ranks);
  const port = ring.ranks[0]!.port;
  const early = [...openIdle(port, 10), ...openNoCert(port, creds.ca.certPem, 10)];
  const t0 = Date.now();
  try {
    // Without a certificate: the handshake fails at once and no HTTP/2 byte (SETTINGS) comes back.
    // Idle ones: dropped at the handshake deadline.
    const ends = await withTimeout(Promise.all(early.map((h) => h.closed)), HANDSHAKE_MS + 3_000, 'dropping the intruders');
    for (const [i, end] of ends.entries()) assert.ok(end - t0 <= HANDSHAKE_MS + 2_500, `intruder ${i} held its connection for ${end - t0} ms`);
    for (const h of early.slice(10)) assert.equal(h.received < 2_000, true, `an unauthenticated peer got ${h.received} bytes (an HTTP/2 session?)`);
    await checkSum(ring);
    const metric = (await ring.registry.getMetricsAsJSON()).find((m) => m.name === REFUSED_METRIC);
    const reasons = new Set((metric?.values ?? []).map((v) => String(v.labels.reason)));
    assert.ok(reasons.has('handshake_timeout') && reasons.has('unverified_certificate'), JSON.stringify(metric?.values));
  } finally {
    // New intruders right before the end: close() must not wait for them.
    const late = [...openIdle(port, 10), ...openNoCert(port, creds.ca.certPem, 5)];
    await new Promise((r) => setTimeout(r, 100));
    const c0 = Date.now();
    await Promise.all(ring.ranks.map((r) => r.collective.close()));
    const closedIn = Date.now() - c0;
    await withTimeout(Promise.all(late.map((h) => h.closed)), 1_000, 'closing the late intruders');
    for (const h of [...early, ...late]) h.socket.destroy();
    assert.ok(closedIn < 2_500, `close() took ${closedIn} ms`);
  }
});

test('an unauthenticated client gets no HTTP/2 session: no stream, no body read', { timeout: 30_000 }, async () => {
  const creds = await createRingCredentials(job, 2);
  const ring = await startRing(creds.ranks);
  try {
    const session = http2.connect(`https://127.0.0.1:${ring.ranks[0]!.port}`, { ca: creds.ca.certPem, checkServerIdentity: () => undefined });
    session.on('error', () => undefined);
    let responses = 0;
    let streams = 0;
    const chunk = Buffer.alloc(32 * 1024);
    // 2,000 streams of 32 KiB each (64 MiB) if the server let it.
    for (let i = 0; i < 2_000 && !session.destroyed && !session.closed; i++) {
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request({ ':method': 'POST', ':path': '/dat.ring.v1.Ring/Abort', 'content-type': 'application/grpc', te: 'trailers' });
      } catch {
        break;
      }
      streams++;
      req.on('error', () => undefined);
      req.on('response', () => responses++);
      req.resume();
      req.write(chunk);
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    // The TLS alert destroys the session (its 'close' waits for the socket to drain, so poll).
    for (let i = 0; i < 50 && !session.destroyed; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(session.destroyed, 'the server kept the unauthenticated connection');
    session.destroy();
    assert.equal(responses, 0, `${responses} of ${streams} streams got a response: the server ran HTTP/2 for a peer without a certificate`);
    await checkSum(ring);
    assert.ok(!ring.logs.some((l) => /method=/.test(l) && /unverified/.test(l)), 'no call-level refusal: the calls never reached gRPC');
  } finally {
    await Promise.all(ring.ranks.map((r) => r.collective.close()));
  }
});

test('a refused caller that keeps uploading gets its stream reset instead of having the body read', { timeout: 30_000 }, async () => {
  const creds = await createRingCredentials(job, 3); // rank 2 holds a valid job certificate but is outside the 2-rank ring
  const ring = await startRing(creds.ranks.slice(0, 2));
  try {
    const outsider = creds.ranks[2]!;
    const session = http2.connect(`https://127.0.0.1:${ring.ranks[0]!.port}`, {
      ca: outsider.caPem, cert: outsider.certPem, key: outsider.keyPem, checkServerIdentity: () => undefined,
    });
    session.on('error', () => undefined);
    const req = session.request({ ':method': 'POST', ':path': '/dat.ring.v1.Ring/Abort', 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    req.on('trailers', (t) => (status = String(t['grpc-status'])));
    req.on('response', (h) => (status ??= h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])));
    req.on('error', () => undefined);
    req.resume();
    const closed = new Promise<number>((resolve) => req.once('close', () => resolve(req.rstCode ?? -1)));
    const chunk = Buffer.alloc(256 * 1024);
    const limit = 256 * 1024 * 1024;
    let written = 0;
    const deadline = Date.now() + 10_000;
    while (written < limit && !req.closed && !req.destroyed && Date.now() < deadline) {
      const ok = req.write(chunk);
      written += chunk.length;
      if (!ok) await Promise.race([new Promise((r) => req.once('drain', r)), closed, new Promise((r) => setTimeout(r, 200))]);
    }
    const rst = await withTimeout(closed, 5_000, 'the stream closing');
    session.destroy();
    assert.equal(status, '7', 'PERMISSION_DENIED');
    assert.equal(rst, http2.constants.NGHTTP2_NO_ERROR, 'RST_STREAM(NO_ERROR) after the response');
    assert.ok(written < 16 * 1024 * 1024, `the server let the refused caller upload ${(written / 1024 / 1024).toFixed(0)} MiB`);
    await checkSum(ring);
  } finally {
    await Promise.all(ring.ranks.map((r) => r.collective.close()));
  }
});

test('a squatted ring port fails at once, naming the port and what to do', { timeout: 15_000 }, async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  try {
    const t0 = Date.now();
    const err = await listenGrpcRing({ rank: 0, worldSize: 2 }, '127.0.0.1', port).then(
      () => assert.fail('bound a port that another process holds'),
      (e: unknown) => e,
    );
    assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
    assert.ok(err instanceof RingBindError, String(err));
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`could not listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE; another process holds port ${port}: stop it, or give the ring another port`));
  } finally {
    squatter.close();
  }
});
