import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { entryCommand } from '../support/paths.js';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...pre] = entryCommand('operator/main');
  const r = spawnSync(cmd!, [...pre, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('dat-operator --help prints the flags; a bad flag exits 2 naming it', () => {
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--leader-elect/);
  assert.match(help.stdout, /--progress-interval/);
  const bad = run(['--bogus']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown flag --bogus/);
});
