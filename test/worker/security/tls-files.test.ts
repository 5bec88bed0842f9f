import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRingCredentials } from '../../../worker/security/certs.js';
import { TLS_FILES, loadRingTlsDir, writeRingTlsDir } from '../../../worker/security/tls-files.js';

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
