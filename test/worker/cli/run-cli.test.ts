import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES } from '../../../common/contract.js';
import { runCli, type CliIo } from '../../../worker/cli/run-cli.js';

function io(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, out: () => out, err: () => err };
}

describe('runCli exit codes', () => {
  const cases = [
    { name: 'help', argv: ['--help'], want: EXIT_CODES.success, out: /Usage:\n {2}dat train/ },
    { name: 'eval help', argv: ['eval', '--help'], want: EXIT_CODES.success, out: /^Usage: dat eval --model DIR/ },
    { name: 'eval with eps outside [0, 1]', argv: ['eval', '--model', 'm', '--dataset', 'mnist', '--eps', '3'], want: EXIT_CODES.badConfig, err: /^dat: error: invalid value "3" for --eps/ },
    { name: 'unknown command', argv: ['fit'], want: EXIT_CODES.badConfig, err: /^dat: error: unknown command "fit"/ },
    { name: 'bad option value', argv: ['train', '--epochs', '0'], want: EXIT_CODES.badConfig, err: /--epochs: expected an integer in \[1, 1000000\]/ },
    { name: 'missing dataset files', argv: ['train', '--dataset', 'mnist-idx', '--data-dir', '/nonexistent-dat-data', '--backend', 'cpu', '--progress', 'none'], want: EXIT_CODES.badData, err: /nonexistent-dat-data/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const s = io();
      const out = await mkdtemp(join(tmpdir(), 'dat-cli-'));
      try {
        const code = await runCli([...c.argv, ...(c.argv[0] === 'train' && c.want === EXIT_CODES.badData ? ['--output', out] : [])], {}, s);
        assert.equal(code, c.want, s.err());
        if (c.out !== undefined) assert.match(s.out(), c.out);
        if (c.err !== undefined) assert.match(s.err(), c.err);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  }

  it('refuses a batch larger than the data with exit code 2', async () => {
    const s = io();
    const code = await runCli(['train', '--limit', '16', '--batch-size', '32', '--model', 'mlp', '--backend', 'cpu', '--progress', 'none', '--output', join(tmpdir(), 'dat-unused')], {}, s);
    assert.equal(code, EXIT_CODES.badConfig, s.err());
    assert.match(s.err(), /--batch-size 32: 16 training examples give no full global batch of 1 x 32/);
  });
});
