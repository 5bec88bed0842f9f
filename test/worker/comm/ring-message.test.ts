import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRingMessage, encodeRingMessage, MAX_PAD_BYTES, RingDecodeError, type RingMessage } from '../../../worker/comm/ring-message.js';
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
    const { encodedBytes, ...decoded } = decodeRingMessage(theirs);
    assert.equal(encodedBytes, theirs.length, 'the decoder reports the encoded size (wire statistics)');
    assert.deepEqual({ ...decoded, data: Array.from(decoded.data) }, want, 'ours decoding protobufjs bytes');
    // `pad` (alignment only) is written when asked for; unaligned encoding has none.
    const { pad, ...back } = Chunk.deserialize(ours);
    assert.equal(pad.length, 0, 'no pad without alignBase');
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

test('aligned encoding puts the payload at a multiple of 4 past alignBase, for every header length', () => {
  const Chunk = loadRingPackage().dat.ring.v1.Chunk;
  // Varying header values change the header length through all residues mod 4.
  for (const alignBase of [0, 1, 5]) {
    for (const seq of [0, 1, 200, 70_000]) {
      for (const part of [0, 3, 300]) {
        for (const len of [1, 4, 200, 70_000]) {
          const msg: RingMessage = { seq, step: 1, phase: 2, chunkIndex: 1, part, senderRank: 2, chunkBytes: len * 3, data: new Uint8Array(len).fill(7) };
          const bytes = encodeRingMessage(msg, alignBase);
          const { encodedBytes, ...decoded } = decodeRingMessage(bytes);
          const where = `alignBase ${alignBase} seq ${seq} part ${part} len ${len}`;
          assert.equal((alignBase + decoded.data.byteOffset - bytes.byteOffset) % 4, 0, where);
          assert.equal(encodedBytes, bytes.length, where);
          assert.deepEqual({ ...decoded, data: Array.from(decoded.data) }, { ...msg, data: Array.from(msg.data) }, where);
          // protobufjs reads the padded bytes as the same chunk (pad is a declared field it ignores here).
          const back = Chunk.deserialize(bytes);
          assert.deepEqual(Array.from(back.data), Array.from(msg.data), where);
          assert.equal(back.seq, seq, where);
          assert.ok(bytes.length <= encodeRingMessage(msg).length + 5, `${where}: pad costs at most 5 bytes`);
        }
      }
    }
  }
});

test('ring message decoder rejects a pad longer than the alignment needs', () => {
  const msg: RingMessage = { seq: 1, step: 2, phase: 3, chunkIndex: 4, part: 5, senderRank: 6, chunkBytes: 3, data: Uint8Array.from([7, 8, 9]) };
  const padOf = (n: number): Buffer => Buffer.concat([Buffer.from([0x4a, n]), Buffer.alloc(n), encodeRingMessage(msg)]); // field 9, bytes
  assert.equal(decodeRingMessage(padOf(MAX_PAD_BYTES)).chunkIndex, 4);
  assert.throws(() => decodeRingMessage(padOf(MAX_PAD_BYTES + 1)), RingDecodeError);
});
