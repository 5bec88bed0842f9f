import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRingMessage, encodeRingMessage, RingDecodeError, type RingMessage } from '../../../worker/comm/ring-message.js';
import { loadRingPackage } from '../../../worker/comm/transport.js';
import type { Phase__Output } from '../../../worker/gen/dat/ring/v1/Phase.js';

// The generated stubs' message type, encoded by protobufjs through proto-loader, is the reference.
const Chunk = loadRingPackage().dat.ring.v1.Chunk;

const cases: Array<{ name: string; msg: RingMessage; sameBytes?: false }> = [
  // protobufjs writes explicitly set zeros, we omit them (both valid proto3): compare by decoding only.
  { name: 'all zero', sameBytes: false, msg: { seq: 0, step: 0, phase: 0, chunkIndex: 0, part: 0, senderRank: 0, chunkBytes: 0, data: new Uint8Array(0) } },
  { name: 'typical chunk', msg: { seq: 7, step: 3, phase: 1, chunkIndex: 2, part: 5, senderRank: 4, chunkBytes: 1 << 20, data: Uint8Array.from([1, 2, 3, 250]) } },
  { name: 'large varints (seq beyond 2^32)', msg: { seq: 2 ** 40 + 3, step: 300, phase: 4, chunkIndex: 128, part: 16384, senderRank: 127, chunkBytes: 2 ** 33, data: new Uint8Array(300).fill(9) } },
];

for (const c of cases) {
  test(`ring message codec matches protobuf: ${c.name}`, () => {
    const ours = encodeRingMessage(c.msg);
    const theirs = Buffer.from(Chunk.serialize({ ...c.msg, phase: c.msg.phase as Phase__Output, data: Buffer.from(c.msg.data) }));
    if (c.sameBytes !== false) assert.deepEqual(ours, theirs, '-want (protobufjs) +got (ours)');
    const want = { ...c.msg, data: Array.from(c.msg.data) };
    const decoded = decodeRingMessage(theirs);
    assert.deepEqual({ ...decoded, data: Array.from(decoded.data) }, want, 'ours decoding protobufjs bytes');
    const back = Chunk.deserialize(ours);
    assert.deepEqual({ ...back, data: Array.from(back.data) }, want, 'protobufjs decoding our bytes');
  });
}

test('ring message decoder skips unknown fields and rejects truncated input', () => {
  const msg: RingMessage = { seq: 1, step: 2, phase: 3, chunkIndex: 4, part: 5, senderRank: 6, chunkBytes: 3, data: Uint8Array.from([7, 8, 9]) };
  const withUnknown = Buffer.concat([Buffer.from([0x48, 0x05]), encodeRingMessage(msg)]); // field 9, varint 5
  assert.equal(decodeRingMessage(withUnknown).chunkIndex, 4);
  const full = encodeRingMessage(msg);
  assert.throws(() => decodeRingMessage(full.subarray(0, full.length - 1)), RingDecodeError);
});
