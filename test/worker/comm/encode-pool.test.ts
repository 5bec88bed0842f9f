import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodePool } from '../../../worker/comm/encode-pool.js';
import { decodeRingMessage, encodedBytesBound, type RingMessage } from '../../../worker/comm/ring-message.js';

const msgOf = (part: number, payload: number): RingMessage => ({
  seq: 3, step: 1, phase: 1, chunkIndex: 2, part, senderRank: 1, chunkBytes: payload * 4, data: new Uint8Array(payload).fill(part + 1),
});

test('pooled messages encode like the codec, and a released buffer is reused', () => {
  const pool = new EncodePool(encodedBytesBound(1024), 2);
  const a = pool.encode(msgOf(0, 1024));
  assert.deepEqual(Array.from(decodeRingMessage(a.bytes).data), Array.from(msgOf(0, 1024).data));
  assert.equal(pool.idle, 0);
  a.release();
  a.release(); // idempotent: the buffer must not enter the free list twice
  assert.equal(pool.idle, 1);
  assert.throws(() => a.bytes, /after release/);
  const b = pool.encode(msgOf(1, 10));
  assert.equal(pool.idle, 0, 'the released buffer was taken');
  assert.equal(decodeRingMessage(b.bytes).part, 1);
});

test('the pool keeps at most maxFree idle buffers and refuses messages that do not fit', () => {
  const pool = new EncodePool(encodedBytesBound(64), 2);
  const held = [0, 1, 2, 3].map((p) => pool.encode(msgOf(p, 64)));
  for (const m of held) m.release();
  assert.equal(pool.idle, 2);
  assert.equal(pool.fits(msgOf(0, 65)), false);
  assert.throws(() => pool.encode(msgOf(0, 65)), RangeError);
  pool.clear();
  assert.equal(pool.idle, 0);
});
