import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCurves } from '../../bench/lib/report.js';

test('saveCurves keeps one current SVG per benchmark and variant, named from the variant', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-report-'));
  try {
    const run = join(dir, 'run');
    const cases = [
      { bench: 'accuracy', variant: undefined, want: 'accuracy.svg' },
      { bench: 'dat', variant: '4 workers, LAMB, sign-ef', want: 'dat-4-workers-lamb-sign-ef.svg' },
      { bench: 'dat', variant: '1 worker, LAMB (reference)', want: 'dat-1-worker-lamb-reference.svg' },
    ];
    for (const [i, c] of cases.entries()) {
      await rm(run, { recursive: true, force: true });
      await mkdir(run);
      await writeFile(join(run, 'curves.svg'), `<svg id="${i}"/>`);
      const path = await saveCurves(c.bench, c.variant, run, dir);
      assert.equal(path, join(dir, 'curves', c.want));
      assert.equal(await readFile(path, 'utf8'), `<svg id="${i}"/>`, 'the run\'s own file');
    }
    await rm(join(run, 'curves.svg'));
    await assert.rejects(saveCurves('dat', 'x', run, dir), /ENOENT/, 'a run that drew no curves is an error, not a stale picture');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
