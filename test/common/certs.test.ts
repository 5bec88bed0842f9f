import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  checkPeerIdentity,
  createJobCa,
  createRingCredentials,
  issueRankCertificate,
  parseRingIdentity,
  ringIdentity,
  type RingCredentials,
} from '../../common/certs.js';

const job = { namespace: 'team-a', name: 'mnist' };

test('ring identity round-trips through its URI', () => {
  const cases = [
    { name: 'rank 0', rank: 0 },
    { name: 'rank 7', rank: 7 },
  ];
  for (const c of cases) {
    assert.deepEqual(parseRingIdentity(ringIdentity(job, c.rank)), { job, rank: c.rank }, c.name);
  }
  assert.equal(parseRingIdentity('spiffe://x/y'), undefined);
});

test('checkPeerIdentity accepts the expected rank and names what is wrong otherwise', async () => {
  const { ranks } = await createRingCredentials(job, 3);
  const other = await createRingCredentials({ namespace: 'team-a', name: 'other' }, 1);
  const cases = [
    { name: 'expected rank', cert: ranks[1]!.certPem, rank: 1 as number | 'any', want: undefined as RegExp | undefined },
    { name: 'any rank', cert: ranks[2]!.certPem, rank: 'any' as const, want: undefined },
    { name: 'wrong rank', cert: ranks[2]!.certPem, rank: 1, want: /rank 2, expected team-a\/mnist rank 1/ },
    { name: 'another job', cert: other.ranks[0]!.certPem, rank: 0, want: /team-a\/other rank 0, expected team-a\/mnist rank 0/ },
    { name: 'no certificate', cert: undefined, rank: 0, want: /no certificate/ },
  ];
  for (const c of cases) {
    const got = checkPeerIdentity(c.cert, job, c.rank);
    if (c.want === undefined) assert.equal(got, undefined, c.name);
    else assert.match(got ?? '', c.want, c.name);
  }
});

test('rejects bad issuance arguments', async () => {
  const ca = await createJobCa(job);
  await assert.rejects(issueRankCertificate(ca, job, -1), /rank must be a non-negative integer/);
  await assert.rejects(createJobCa(job, { validityDays: 0 }), /validityDays must be > 0/);
});

/** A real mutual-TLS handshake with node:tls using the issued credentials. */
async function handshake(server: RingCredentials, client: Partial<RingCredentials> & { caPem: string }): Promise<{ ok: boolean; peerCert?: Buffer; error?: string }> {
  const srv = createServer({ ca: server.caPem, cert: server.certPem, key: server.keyPem, requestCert: true, rejectUnauthorized: true }, (s) => s.end('hi'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      const sock: TLSSocket = connect({
        host: '127.0.0.1',
        port,
        ca: client.caPem,
        ...(client.certPem ? { cert: client.certPem, key: client.keyPem } : {}),
        // The ring checks identities by URI SAN, not by host name.
        checkServerIdentity: () => undefined,
      });
      sock.on('secureConnect', () => {
        sock.once('data', () => {
          resolve({ ok: true, peerCert: sock.getPeerCertificate().raw });
          sock.destroy();
        });
      });
      sock.on('error', (e) => resolve({ ok: false, error: e.message }));
      sock.on('close', () => resolve({ ok: false, error: 'closed' }));
    });
  } finally {
    srv.close();
  }
}

test('issued certificates complete a mutual TLS handshake; a foreign CA or no client cert is refused', async () => {
  const ring = await createRingCredentials(job, 2);
  const foreign = await createRingCredentials({ namespace: 'team-b', name: 'evil' }, 1);
  const ok = await handshake(ring.ranks[0]!, ring.ranks[1]!);
  assert.equal(ok.ok, true, ok.error);
  assert.equal(checkPeerIdentity(ok.peerCert, job, 0), undefined);

  const noCert = await handshake(ring.ranks[0]!, { caPem: ring.ranks[1]!.caPem });
  assert.equal(noCert.ok, false);

  const foreignClient = await handshake(ring.ranks[0]!, { ...foreign.ranks[0]!, caPem: ring.ranks[1]!.caPem });
  assert.equal(foreignClient.ok, false);
});
