import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeFor } from '../../../worker/cli/exit-code.js';
import { EXIT_CODES } from '../../../common/contract.js';
import { ensureWritableDir, explainFsError } from '../../../worker/checkpoint/writable-dir.js';
import { ConfigError } from '../../../common/errors.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: raw message`), { code });
}

describe('explainFsError', () => {
  const cases: { name: string; err: unknown; want: RegExp; exit: number }[] = [
    { name: 'read-only volume', err: errno('EROFS'), want: /^cannot write \/v: read-only file system \(EROFS\)$/, exit: EXIT_CODES.badConfig },
    { name: 'no permission', err: errno('EACCES'), want: /permission denied \(EACCES\)$/, exit: EXIT_CODES.badConfig },
    { name: 'a file in the path', err: errno('ENOTDIR'), want: /a component of the path is a file/, exit: EXIT_CODES.badConfig },
    { name: 'NUL byte in the path', err: Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_VALUE' }), want: /invalid path/, exit: EXIT_CODES.badConfig },
    { name: 'full disk may pass', err: errno('ENOSPC'), want: /no space left on the device \(ENOSPC\)$/, exit: EXIT_CODES.failure },
    { name: 'anything else keeps its message', err: errno('EBUSY'), want: /EBUSY: raw message$/, exit: EXIT_CODES.failure },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = explainFsError(c.err, 'write', '/v');
      assert.match(got.message, c.want);
      assert.equal(exitCodeFor(got), c.exit);
      assert.equal(got.retryable, c.exit !== EXIT_CODES.badConfig);
    });
  }
});

describe('ensureWritableDir', () => {
  it('creates a missing directory and leaves no probe file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dat-writable-'));
    try {
      await ensureWritableDir(join(root, 'a', 'b'), 'output directory');
      assert.deepEqual(await readdir(join(root, 'a', 'b')), []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  const bad: { name: string; path: (root: string) => string; want: RegExp }[] = [
    { name: 'below a regular file', path: (root) => join(root, 'file', 'x'), want: /cannot create output directory .*: a component of the path is a file, not a directory \(ENOTDIR\)/ },
    { name: 'a regular file itself', path: (root) => join(root, 'file'), want: /cannot create output directory .*file: a file exists where a directory is needed \(EEXIST\)/ },
    { name: 'a NUL byte', path: (root) => join(root, 'a\0b'), want: /invalid path/ },
    { name: 'a file system that refuses new directories', path: () => '/sys/dat-writable-test', want: /(operation not permitted|read-only file system|permission denied)/ },
  ];
  for (const c of bad) {
    it(`refuses a path ${c.name} with a ConfigError`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'dat-writable-'));
      try {
        await writeFile(join(root, 'file'), 'x');
        await assert.rejects(ensureWritableDir(c.path(root), 'output directory'), (err: unknown) => err instanceof ConfigError && c.want.test(err.message));
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});
