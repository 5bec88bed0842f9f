import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTensorFile, encodeTensorFile } from '../../../worker/checkpoint/tensor-file.js';
import { DataError } from '../../../common/errors.js';
import { Rng } from '../../../worker/util/rng.js';

const sample = new Map([
  ['a', Float32Array.from([1, 2, 3])],
  ['empty', new Float32Array(0)],
  ['b', Float32Array.from([-1.5])],
]);

test('round trip', () => {
  const got = decodeTensorFile<{ x: number }>(encodeTensorFile(sample, { x: 1 }), 'f');
  assert.deepEqual(got.meta, { x: 1 });
  assert.deepEqual([...got.tensors.keys()], ['a', 'empty', 'b']);
  assert.deepEqual([...got.tensors.get('a')!], [1, 2, 3]);
});

test('every truncation is a DataError naming the file', () => {
  const buf = encodeTensorFile(sample, { x: 1 });
  for (let len = 0; len < buf.length; len++) {
    assert.throws(() => decodeTensorFile(buf.subarray(0, len), '/ckpt/rank-0.ckpt'), (e: unknown) => {
      return e instanceof DataError && e.message.includes('/ckpt/rank-0.ckpt');
    }, `length ${len}`);
  }
});

test('random byte mutations never crash: they decode or fail with a DataError', () => {
  const buf = encodeTensorFile(sample, { x: 1 });
  const rng = new Rng(7);
  for (let i = 0; i < 2000; i++) {
    const m = Buffer.from(buf);
    const flips = 1 + rng.nextInt(4);
    for (let k = 0; k < flips; k++) m[rng.nextInt(m.length)] = rng.nextInt(256);
    try {
      decodeTensorFile(m, 'fuzz');
    } catch (e) {
      assert.ok(e instanceof DataError, `mutation ${i} threw ${String(e)}`);
    }
  }
});
