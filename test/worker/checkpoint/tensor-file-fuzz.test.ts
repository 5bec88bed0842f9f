/**
 * Property test of the checkpoint file reader against truncated and randomly
 * mutated files: a DataError naming the file or tensors consistent with the
 * header; never another exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTensorFile, encodeTensorFile } from '../../../worker/checkpoint/tensor-file.js';
import { DataError } from '../../../common/errors.js';
import { Rng } from '../../../worker/util/rng.js';

const FILE = 'ckpt-fuzz.bin';
const MUTATIONS = 400;

function valid(): Buffer {
  const tensors = new Map<string, Float32Array>([
    ['dense/kernel', Float32Array.from({ length: 24 }, (_, i) => i / 7)],
    ['dense/bias', Float32Array.from([1, -2, 3])],
  ]);
  return encodeTensorFile(tensors, { step: 12, rng: 99 });
}

function decodeOrDataError(buf: Buffer, what: string): 'ok' | 'error' {
  try {
    const got = decodeTensorFile(buf, FILE);
    for (const [name, arr] of got.tensors) assert.ok(arr instanceof Float32Array && typeof name === 'string', what);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof DataError, `${what}: expected a DataError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.match(err.message, new RegExp(`checkpoint file ${FILE}`), what);
    return 'error';
  }
}

test('checkpoint file: every truncation is a DataError naming the file', () => {
  const buf = valid();
  for (let len = 0; len < buf.length; len++) assert.equal(decodeOrDataError(buf.subarray(0, len), `cut at ${len}`), 'error', `cut at ${len}`);
});

test('checkpoint file: random mutations give a DataError or consistent tensors, never a crash', () => {
  const buf = valid();
  const rng = new Rng(2024);
  for (let i = 0; i < MUTATIONS; i++) {
    const m = Buffer.from(buf);
    for (let k = 1 + rng.nextInt(6); k > 0; k--) {
      // Half the edits hit the magic, length and JSON header, where the parser decides what to trust.
      const at = rng.nextInt(2) === 0 ? rng.nextInt(Math.min(m.length, 120)) : rng.nextInt(m.length);
      m[at] = rng.nextInt(256);
    }
    decodeOrDataError(m, `mutation ${i}`);
  }
});

test('checkpoint file: a header whose entry list holds null is a DataError', () => {
  const header = Buffer.from(JSON.stringify({ entries: [null], meta: {} }));
  const buf = Buffer.concat([Buffer.from('DATCKPT1'), Buffer.alloc(4), header]);
  buf.writeUInt32LE(header.length, 8);
  assert.equal(decodeOrDataError(buf, 'null entry'), 'error');
});
