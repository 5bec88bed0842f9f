import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJobCa, createRingCredentials, ringIdentitiesOf } from '../../common/certs.js';
import { JOB_CA_KEY_FILE, TLS_FILES, loadRingTlsDir, writeRingTlsDir } from '../../common/tls-files.js';
import { X509Certificate } from 'node:crypto';

const job = { namespace: 'ns', name: 'j' };

test('writeRingTlsDir then loadRingTlsDir round-trips; the key is 0600', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-tls-'));
  try {
    const { ranks } = await createRingCredentials(job, 1);
    await writeRingTlsDir(join(dir, 'rank-0'), ranks[0]!);
    assert.deepEqual(await loadRingTlsDir(join(dir, 'rank-0')), ranks[0]);
    assert.equal((await stat(join(dir, 'rank-0', TLS_FILES.key))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'rank-0'))).mode & 0o777, 0o700);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadRingTlsDir names the missing or bad file', async () => {
  const { ranks } = await createRingCredentials(job, 2);
  const other = await createRingCredentials(job, 1);
  const good = ranks[0]!;
  const cases: Array<{ name: string; prepare: (dir: string) => Promise<void>; want: RegExp }> = [
    { name: 'missing CA', prepare: (d) => unlink(join(d, TLS_FILES.ca)), want: /CA certificate .*ca\.crt is missing/ },
    { name: 'missing key', prepare: (d) => unlink(join(d, TLS_FILES.key)), want: /private key .*tls\.key is missing/ },
    { name: 'not PEM', prepare: (d) => writeFile(join(d, TLS_FILES.cert), 'hello'), want: /certificate .*tls\.crt is not PEM/ },
    { name: 'corrupt certificate', prepare: (d) => writeFile(join(d, TLS_FILES.cert), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), want: /tls\.crt is not a valid X\.509 certificate/ },
    { name: 'corrupt key', prepare: (d) => writeFile(join(d, TLS_FILES.key), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), want: /tls\.key is not a valid private key/ },
    { name: 'key of another rank', prepare: (d) => writeFile(join(d, TLS_FILES.key), ranks[1]!.keyPem), want: /tls\.key does not match certificate/ },
    { name: 'CA of another incarnation', prepare: (d) => writeFile(join(d, TLS_FILES.ca), other.ca.certPem), want: /tls\.crt was not issued by the CA/ },
  ];
  for (const c of cases) {
    const dir = await mkdtemp(join(tmpdir(), 'dat-tls-'));
    try {
      await writeRingTlsDir(dir, good);
      await c.prepare(dir);
      await assert.rejects(loadRingTlsDir(dir), (err: Error) => {
        assert.equal(err.name, 'ConfigError', c.name);
        assert.match(err.message, c.want, c.name);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

/** A ring TLS directory as a pod mounts it: the job CA certificate and key. */
async function writeJobCaDir(dir: string, ca: { certPem: string; keyPem: string }): Promise<void> {
  await writeFile(join(dir, TLS_FILES.ca), ca.certPem);
  await writeFile(join(dir, JOB_CA_KEY_FILE), ca.keyPem);
}

test('loadRingTlsDir issues the rank certificate itself from a job CA key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-tls-'));
  try {
    const ca = await createJobCa(job);
    await writeJobCaDir(dir, ca);
    for (const rank of [0, 7]) {
      const creds = await loadRingTlsDir(dir, { job, rank });
      assert.equal(creds.caPem, ca.certPem);
      assert.deepEqual(ringIdentitiesOf(creds.certPem), [{ job, rank }]);
      assert.ok(new X509Certificate(creds.certPem).verify(new X509Certificate(ca.certPem).publicKey), 'issued by the job CA');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadRingTlsDir refuses a job CA key it cannot use', async () => {
  const ca = await createJobCa(job);
  const other = await createJobCa(job);
  const { ranks } = await createRingCredentials(job, 1);
  const self = { job, rank: 0 };
  const cases: Array<{ name: string; prepare: (dir: string) => Promise<void>; self?: typeof self; want: RegExp }> = [
    { name: 'no namespace to issue for', prepare: () => Promise.resolve(), want: /holds a job CA key \(ca\.key\): set DAT_NAMESPACE/ },
    { name: 'a rank pair as well', prepare: (d) => writeFile(join(d, TLS_FILES.cert), ranks[0]!.certPem), self, want: /holds both a job CA key .* it must hold one of them/ },
    { name: 'key of another CA', prepare: (d) => writeFile(join(d, JOB_CA_KEY_FILE), other.keyPem), self, want: /ca\.key does not match CA certificate/ },
    { name: 'corrupt CA key', prepare: (d) => writeFile(join(d, JOB_CA_KEY_FILE), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), self, want: /ca\.key is not a valid private key/ },
    { name: 'missing CA certificate', prepare: (d) => unlink(join(d, TLS_FILES.ca)), self, want: /CA certificate .*ca\.crt is missing/ },
  ];
  for (const c of cases) {
    const dir = await mkdtemp(join(tmpdir(), 'dat-tls-'));
    try {
      await writeJobCaDir(dir, ca);
      await c.prepare(dir);
      await assert.rejects(loadRingTlsDir(dir, c.self), (err: Error) => {
        assert.equal(err.name, 'ConfigError', c.name);
        assert.match(err.message, c.want, c.name);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
