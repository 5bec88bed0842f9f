import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { ProtoWriter } from '../../../../../worker/backend/native/graph/proto-writer.js';

/** Bytes as lowercase hex pairs, so a mismatch shows where it starts. */
function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

// Expected bytes are worked out by hand from the wire format (tag = field << 3 | wire type).
const FF9 = 'ff ff ff ff ff ff ff ff ff';
const cases: readonly { name: string; write: (w: ProtoWriter) => void; want: string }[] = [
  { name: 'varint 0 is written (no default skipping)', write: (w) => w.varint(1, 0), want: '08 00' },
  { name: 'varint 1', write: (w) => w.varint(1, 1), want: '08 01' },
  { name: 'varint 127 fits one byte', write: (w) => w.varint(1, 127), want: '08 7f' },
  { name: 'varint 128 needs two', write: (w) => w.varint(1, 128), want: '08 80 01' },
  { name: 'varint 300', write: (w) => w.varint(1, 300), want: '08 ac 02' },
  { name: 'varint 2^32', write: (w) => w.varint(1, 2 ** 32), want: '08 80 80 80 80 10' },
  { name: 'int64 max (bigint)', write: (w) => w.varint(1, 2n ** 63n - 1n), want: '08 ff ff ff ff ff ff ff ff 7f' },
  { name: 'int64 -1 is ten bytes (two’s complement)', write: (w) => w.varint(1, -1), want: `08 ${FF9} 01` },
  { name: 'int64 -2', write: (w) => w.varint(1, -2n), want: `08 fe ${FF9.slice(3)} 01` },
  { name: 'int64 min', write: (w) => w.varint(1, -(2n ** 63n)), want: '08 80 80 80 80 80 80 80 80 80 01' },
  { name: 'bool true', write: (w) => w.varint(2, true), want: '10 01' },
  { name: 'bool false is written', write: (w) => w.varint(2, false), want: '10 00' },
  { name: 'field 15 has a one-byte tag', write: (w) => w.varint(15, 1), want: '78 01' },
  { name: 'field 16 has a two-byte tag', write: (w) => w.varint(16, 1), want: '80 01 01' },
  { name: 'float 1.5 (fixed32, little-endian)', write: (w) => w.float(3, 1.5), want: '1d 00 00 c0 3f' },
  { name: 'float -0', write: (w) => w.float(3, -0), want: '1d 00 00 00 80' },
  { name: 'float 0.1 rounds to float32', write: (w) => w.float(1, 0.1), want: '0d cd cc cc 3d' },
  { name: 'string ASCII', write: (w) => w.string(4, 'serve'), want: '22 05 73 65 72 76 65' },
  { name: 'string UTF-8', write: (w) => w.string(4, 'hé'), want: '22 03 68 c3 a9' },
  { name: 'empty string', write: (w) => w.string(4, ''), want: '22 00' },
  { name: 'bytes', write: (w) => w.bytes(4, Uint8Array.from([0, 255, 7])), want: '22 03 00 ff 07' },
  { name: 'nested message', write: (w) => w.message(5, (m) => m.varint(1, 150)), want: '2a 03 08 96 01' },
  { name: 'empty nested message', write: (w) => w.message(5, () => {}), want: '2a 00' },
  // Inner: 08 + ten bytes = 11 (0x0b); middle: 0a 01 78, 12 0b, inner = 16 (0x10).
  { name: 'twice nested message', write: (w) => w.message(1, (a) => a.string(1, 'x').message(2, (b) => b.varint(1, -1))), want: `0a 10 0a 01 78 12 0b 08 ${FF9} 01` },
  { name: 'packed varints 1, 300, -1', write: (w) => w.packedVarints(3, [1, 300, -1]), want: `1a 0d 01 ac 02 ${FF9} 01` },
  { name: 'packed varints, empty', write: (w) => w.packedVarints(3, []), want: '1a 00' },
  { name: 'fields stay in call order', write: (w) => w.varint(2, 1).varint(1, 2), want: '10 01 08 02' },
];

describe('ProtoWriter', () => {
  for (const c of cases) {
    test(`encodes ${c.name}`, () => {
      const w = new ProtoWriter();
      c.write(w);
      assert.equal(hex(w.finish()), c.want);
    });
  }

  test('grows past its initial buffer without losing bytes', () => {
    const w = new ProtoWriter();
    const long = new Uint8Array(1000).map((_, i) => i & 0xff);
    w.varint(1, 7);
    for (let i = 0; i < 100; i++) w.varint(2, -1); // 11 bytes each: crosses 256 bytes mid-varint
    w.bytes(3, long);
    const got = w.finish();
    assert.equal(got.length, 2 + 100 * 11 + 3 + 1000);
    assert.equal(hex(got.subarray(0, 2)), '08 07');
    for (let i = 0; i < 100; i++) assert.equal(hex(got.subarray(2 + 11 * i, 13 + 11 * i)), `10 ${FF9} 01`, `varint ${i}`);
    assert.equal(hex(got.subarray(1102, 1105)), '1a e8 07');
    assert.deepEqual(got.subarray(1105), long);
  });

  test('finish returns a copy that later writes do not change', () => {
    const w = new ProtoWriter().varint(1, 1);
    const first = w.finish();
    w.varint(2, 2);
    assert.equal(hex(first), '08 01');
    assert.equal(hex(w.finish()), '08 01 10 02');
  });

  // protobufjs is an independent implementation of the same wire format.
  const root = protobuf.parse(`
    syntax = "proto3";
    message Inner { int32 small = 1; string label = 2; repeated int64 sizes = 3; }
    message Outer {
      int64 count = 1;
      bool flag = 2;
      float ratio = 3;
      string name = 4;
      Inner inner = 5;
      repeated int64 dims = 6;
      bytes raw = 7;
      repeated Inner items = 8;
      sint32 unused = 9;
    }
  `).root.resolveAll(); // resolving applies [packed = true]; unresolved protobufjs writes unpacked
  const Outer = root.lookupType('Outer');

  function writeOuter(w: ProtoWriter): void {
    w.varint(1, -5)
      .varint(2, true)
      .float(3, 0.25)
      .string(4, 'conv2d/kernel:0')
      .message(5, (m) => m.varint(1, -3).string(2, 'é').packedVarints(3, [-1, 0, 28, 2 ** 40]))
      .packedVarints(6, [-1, 28, 28, 1])
      .bytes(7, Uint8Array.from([1, 2, 3]))
      .message(8, (m) => m.varint(1, 1))
      .message(8, () => {});
  }

  test('protobufjs decodes a nested message to the values written', () => {
    const w = new ProtoWriter();
    writeOuter(w);
    const bytes = w.finish();
    const decoded = Outer.toObject(Outer.decode(bytes), { longs: String, arrays: true });
    assert.deepEqual(
      { ...decoded, raw: Array.from(decoded['raw'] as Uint8Array) },
      {
        count: '-5',
        flag: true,
        ratio: 0.25,
        name: 'conv2d/kernel:0',
        inner: { small: -3, label: 'é', sizes: ['-1', '0', '28', String(2 ** 40)] },
        dims: ['-1', '28', '28', '1'],
        raw: [1, 2, 3],
        items: [{ small: 1, sizes: [] }, { sizes: [] }],
      },
    );
  });

  test('protobufjs encodes the same message to the same bytes', () => {
    const w = new ProtoWriter();
    writeOuter(w);
    const ours = w.finish();
    const theirs = Outer.encode(Outer.decode(ours)).finish();
    assert.equal(hex(ours), hex(theirs), '-want (protobufjs) +got (ours)');
  });
});
