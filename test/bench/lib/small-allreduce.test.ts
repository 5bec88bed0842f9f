import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agreementMiB } from '../../../bench/lib/small-allreduce.js';

test('agreementMiB: one float per rank, exact through a decimal string (the gloo driver reads it back)', () => {
  for (const n of [1, 2, 3, 4, 7, 16, 64, 1024]) {
    const mib = agreementMiB(n);
    assert.equal((Number(String(mib)) * 1024 * 1024) / 4, n, `n = ${n}`);
  }
});
