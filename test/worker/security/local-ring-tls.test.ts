import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatCredentialsLine, issueLocalRingTls, readCredentialsLine } from '../../../worker/security/local-ring-tls.js';
import { ownRingIdentity } from '../../../worker/security/ring-credentials.js';

test('issueLocalRingTls issues one identity per rank under one CA, and a credentials line round-trips over a stream', async () => {
  const ranks = await issueLocalRingTls(3);
  assert.equal(new Set(ranks.map((r) => r.caPem)).size, 1, 'one CA for the ring');
  for (const [r, creds] of ranks.entries()) {
    assert.deepEqual(ownRingIdentity(creds), { job: { namespace: 'local', name: 'local' }, rank: r });
    const stdin = new PassThrough();
    const line = formatCredentialsLine(creds);
    // Split writes and a trailing byte: the reader joins chunks and leaves the rest on the stream.
    stdin.write(line.slice(0, 100));
    stdin.write(line.slice(100) + 'x');
    const got = await readCredentialsLine(stdin, 2_000);
    assert.deepEqual(got, creds);
    assert.equal(String(stdin.read()), 'x');
  }
});

test('readCredentialsLine refuses bad input, an early end and silence, each with a ConfigError', async () => {
  const [a] = await issueLocalRingTls(1);
  const [b] = await issueLocalRingTls(1);
  const cases = [
    { name: 'not JSON', input: 'hello\n', want: /not JSON ring credentials/ },
    { name: 'missing key', input: JSON.stringify({ caPem: a!.caPem, certPem: a!.certPem }) + '\n', want: /lacks caPem, certPem or keyPem/ },
    { name: 'key of another ring', input: formatCredentialsLine({ ...a!, keyPem: b!.keyPem }), want: /does not match certificate/ },
    { name: 'end before a line', input: null, want: /stdin ended before the ring credentials/ },
    { name: 'silence', input: undefined, want: /no ring credentials arrived on stdin within 200 ms/ },
  ];
  for (const c of cases) {
    const stdin = new PassThrough();
    const reading = readCredentialsLine(stdin, 200);
    if (typeof c.input === 'string') stdin.write(c.input);
    if (c.input === null) stdin.end();
    await assert.rejects(reading, (err: Error) => err.name === 'ConfigError' && c.want.test(err.message), c.name);
  }
});
