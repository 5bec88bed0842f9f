import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { prepareLocalRingTls } from '../../../worker/security/local-ring-tls.js';
import { ownRingIdentity } from '../../../worker/security/ring-credentials.js';
import { loadRingTlsDir } from '../../../worker/security/tls-files.js';

test('prepareLocalRingTls writes one loadable directory per rank, private, and removes it on cleanup', async () => {
  const tls = await prepareLocalRingTls(3);
  const root = dirname(tls.dirFor(0));
  try {
    assert.equal((await stat(root)).mode & 0o777, 0o700);
    const cas = new Set<string>();
    for (let r = 0; r < 3; r++) {
      const creds = await loadRingTlsDir(tls.dirFor(r));
      assert.deepEqual(ownRingIdentity(creds), { job: { namespace: 'local', name: 'local' }, rank: r });
      assert.equal((await stat(join(tls.dirFor(r), 'tls.key'))).mode & 0o777, 0o600);
      cas.add(creds.caPem);
    }
    assert.equal(cas.size, 1, 'one CA for the ring');
  } finally {
    await tls.cleanup();
  }
  assert.equal(existsSync(root), false);
});
