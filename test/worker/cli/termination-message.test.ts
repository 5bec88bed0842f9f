import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TERMINATION_LOG_ENV, writeTerminationMessage } from '../../../worker/cli/termination-message.js';
import { runCli } from '../../../worker/cli/run-cli.js';

test('writeTerminationMessage writes only where the kubelet created the file, capped at 4096 bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dat-termlog-'));
  try {
    const path = join(dir, 'termination-log');
    assert.equal(writeTerminationMessage('boom', { [TERMINATION_LOG_ENV]: path }), false, 'no file: not in a pod, nothing written');
    writeFileSync(path, '');
    assert.equal(writeTerminationMessage('x'.repeat(10_000), { [TERMINATION_LOG_ENV]: path }), true);
    assert.equal(readFileSync(path).length, 4096);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pod rank that fails on bad input leaves its one-line error as the termination message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dat-termlog-'));
  try {
    const path = join(dir, 'termination-log');
    writeFileSync(path, '');
    const env = { DAT_RANK: '0', DAT_WORLD_SIZE: '1', DAT_PEERS: '127.0.0.1:1', DAT_INSECURE_RING: '1', [TERMINATION_LOG_ENV]: path };
    const err: string[] = [];
    const code = await runCli(['train', '--eps', '2'], env, { stdout: { write: () => true }, stderr: { write: (s: string) => err.push(s) > 0 } } as never);
    assert.equal(code, 2);
    const message = readFileSync(path, 'utf8');
    assert.match(message, /eps/);
    assert.ok(!message.includes('\n'), 'one line');
    assert.ok(err.join('').includes(`dat: error: ${message}`), 'the same line as on stderr');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
