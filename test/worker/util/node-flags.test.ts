/**
 * The workers' node flags: what is missing from a process's execArgv, the
 * options a peer is spawned with, and bin/dat.js's shebang carrying the same
 * flags (it cannot import them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WORKER_NODE_FLAGS, missingWorkerNodeFlags, withWorkerNodeFlags } from '../../../worker/util/node-flags.js';
import { datCommand, REPO_ROOT } from '../../support/paths.js';

const CASES: ReadonlyArray<{ name: string; execArgv: readonly string[]; missing: readonly string[]; peer: readonly string[] }> = [
  { name: 'plain node', execArgv: [], missing: WORKER_NODE_FLAGS, peer: WORKER_NODE_FLAGS },
  { name: 'started with the flags', execArgv: [...WORKER_NODE_FLAGS], missing: [], peer: WORKER_NODE_FLAGS },
  { name: 'other flags kept after the missing ones', execArgv: ['--import', 'tsx'], missing: WORKER_NODE_FLAGS, peer: [...WORKER_NODE_FLAGS, '--import', 'tsx'] },
];

for (const c of CASES) {
  test(`missingWorkerNodeFlags / withWorkerNodeFlags: ${c.name}`, () => {
    assert.deepEqual(missingWorkerNodeFlags(c.execArgv), c.missing);
    assert.deepEqual(withWorkerNodeFlags(c.execArgv), c.peer);
  });
}

test('bin/dat.js starts node with exactly WORKER_NODE_FLAGS', async () => {
  const first = (await readFile(join(REPO_ROOT, 'bin', 'dat.js'), 'utf8')).split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${WORKER_NODE_FLAGS.join(' ')}`);
});

test('bin/dat.js runs when executed directly: this system\'s env splits the shebang (-S)', async () => {
  const [cmd] = datCommand();
  const { stdout } = await promisify(execFile)(cmd!, ['--help'], { timeout: 60_000 });
  assert.match(stdout, /dat train/);
});
