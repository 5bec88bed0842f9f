/**
 * scripts/gpu-bundle.sh unpack, on bundles made here by hand (packing a real one takes
 * minutes and the GPU binding): a whole bundle unpacks into the clone it is given; a
 * missing or damaged part is refused before the clone is touched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'gpu-bundle.sh');
const hasZstd = spawnSync('zstd', ['--version']).status === 0;

/** A bundle of node_modules/x, dist/y and a stand-in node, split into 1 KiB parts, and a clone to unpack into. */
function makeBundle(root: string): { dir: string; clone: string; parts: number } {
  const tree = join(root, 'tree');
  mkdirSync(join(tree, 'node_modules', 'x'), { recursive: true });
  mkdirSync(join(tree, 'dist'), { recursive: true });
  mkdirSync(join(tree, '.gpu-runtime', 'bin'), { recursive: true });
  writeFileSync(join(tree, 'node_modules', 'x', 'index.js'), 'x'.repeat(4000));
  writeFileSync(join(tree, 'dist', 'y.js'), 'y');
  writeFileSync(join(tree, '.gpu-runtime', 'bin', 'node'), '#!/bin/sh\necho v20.0.0-test\n');
  chmodSync(join(tree, '.gpu-runtime', 'bin', 'node'), 0o755);
  const dir = join(root, 'bundle');
  mkdirSync(dir);
  // Random bytes do not compress, so the stream spans several parts.
  writeFileSync(join(tree, 'node_modules', 'x', 'blob'), execFileSync('head', ['-c', '3000', '/dev/urandom']));
  execFileSync('bash', ['-c', `tar -C "${tree}" -cf - . | zstd -q -3 --long=27 | split -b 1K -d -a 2 - "${dir}/bundle.tar.zst."`]);
  const sha = execFileSync('bash', ['-c', `cat "${dir}"/bundle.tar.zst.* | sha256sum | cut -d' ' -f1`], { encoding: 'utf8' }).trim();
  const parts = execFileSync('bash', ['-c', `ls "${dir}"/bundle.tar.zst.* | wc -l`], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'manifest'), `commit=unknown\nsm=90\nparts=${parts}\nsha256=${sha}\nwindow_log=27\n`);
  const clone = join(root, 'clone');
  mkdirSync(join(clone, 'node_modules', 'old'), { recursive: true });
  return { dir, clone, parts: Number(parts) };
}

function unpack(dir: string, clone: string): { status: number | null; out: string } {
  const r = spawnSync('bash', [SCRIPT, 'unpack', dir, '--into', clone], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('gpu-bundle.sh unpack', { skip: hasZstd ? false : 'zstd is not installed' }, () => {
  const cases = [
    { name: 'a whole bundle replaces node_modules and dist', damage: (_dir: string) => {}, status: 0, out: /^gpu-bundle: unpacked \d+ parts for sm_90 \(node v20\.0\.0-test\)$/m },
    { name: 'a missing part is refused', damage: (dir: string) => unlinkSync(join(dir, 'bundle.tar.zst.01')), status: 1, out: /holds \d+ of \d+ parts/ },
    { name: 'a damaged part is refused', damage: (dir: string) => truncateSync(join(dir, 'bundle.tar.zst.01'), 100), status: 1, out: /do not match the manifest's sha256/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const root = mkdtempSync(join(tmpdir(), 'gpu-bundle-'));
      try {
        const { dir, clone, parts } = makeBundle(root);
        assert.ok(parts >= 3, `the test bundle should span several parts, got ${parts}`);
        c.damage(dir);
        const r = unpack(dir, clone);
        assert.equal(r.status, c.status, r.out);
        assert.match(r.out, c.out);
        if (c.status === 0) {
          assert.equal(readFileSync(join(clone, 'dist', 'y.js'), 'utf8'), 'y');
          assert.equal(existsSync(join(clone, 'node_modules', 'old')), false, 'the old node_modules is replaced');
        } else {
          assert.equal(existsSync(join(clone, 'node_modules', 'old')), true, 'a refused bundle leaves the clone as it was');
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
