/**
 * The TensorBoard event writer against the real `tensorboard` package: every
 * record it writes must pass TensorBoard's CRC checks and read back with the
 * same step, wall time, tag and value (scalars as float32).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, createEventFileWriter, maskedCrc32c } from '../../../../worker/telemetry/tensorboard/index.js';
import { encodeVarint } from '../../../../worker/telemetry/tensorboard/protobuf-writer.js';
import { readTensorBoard } from '../../../support/tensorboard-reader.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('crc32c', () => {
  // Check values from RFC 3720, appendix B.4, and the CRC catalogue's "123456789".
  const cases = [
    { name: 'empty', input: new Uint8Array(0), want: 0x00000000 },
    { name: '"123456789"', input: bytes('123456789'), want: 0xe3069283 },
    { name: '32 zero bytes', input: new Uint8Array(32), want: 0x8a9136aa },
    { name: '32 bytes of 0xff', input: new Uint8Array(32).fill(0xff), want: 0x62a8ab43 },
    { name: '0..31 ascending', input: Uint8Array.from({ length: 32 }, (_, i) => i), want: 0x46dd794e },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(crc32c(c.input), c.want, `-want 0x${c.want.toString(16)} +got 0x${crc32c(c.input).toString(16)}`));
  }
  it('masks as TFRecord does: rotate right 15, add 0xa282ead8', () => {
    const crc = 0xe3069283;
    assert.equal(maskedCrc32c(bytes('123456789')), ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) % 2 ** 32);
  });
});

describe('encodeVarint', () => {
  const cases = [
    { name: '0', input: 0n, want: [0] },
    { name: '1', input: 1n, want: [1] },
    { name: '300', input: 300n, want: [0xac, 0x02] },
    { name: '2^35', input: 2n ** 35n, want: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual([...encodeVarint(c.input)], c.want));
});

describe('event file writer, read back by tensorboard', () => {
  it('writes scalars and text that TensorBoard reads back exactly', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-tb-'));
    try {
      const t0 = 1_796_000_000_123.25; // ms; the clock advances 1.5 ms per reading
      let clock = t0;
      // Reading 1 names the file; reading i + 2 stamps raw event i.
      const wallTimeOf = (event: number): number => (t0 + 1.5 * (event + 2)) / 1000;
      const writer = createEventFileWriter(dir, { now: () => (clock += 1.5) });
      const text = '| option | value |\n| --- | --- |\n| model | small-cnn |\n| note | ünïcödé, `code`, 8/255 \\| pipe |';
      writer.addText('config', text, 0);
      const scalars: { step: number; values: Record<string, number> }[] = [];
      const specials = [0, -0.5, 0.1, 1e-30, 3.4e38, 1 / 3, -1e6, 123456.789];
      for (let step = 1; step <= 40; step++) {
        const values = { 'train/loss': 2.5 / step, 'train/lr': specials[step % specials.length]!, 'train/bytes_sent': step * 1_048_576 };
        writer.addScalars(step, values);
        scalars.push({ step, values });
      }
      // A step far beyond 2^31 exercises the int64 varint.
      writer.addScalars(2 ** 40, { 'eval/clean_accuracy': 0.9875 });
      writer.close();
      writer.close();

      const files = await readdir(dir);
      assert.equal(files.length, 1);
      assert.match(files[0]!, /^events\.out\.tfevents\.\d+\..+\.\d+\.v2$/);
      const tb = await readTensorBoard(dir);

      // Raw records, in order: file version, text, 40 scalar steps, the last scalar.
      const raw = tb.files[files[0]!]!;
      assert.equal(raw.length, 1 + 1 + 40 + 1);
      assert.deepEqual(raw[0], { step: 0, wallTime: wallTimeOf(0), kind: 'file_version', fileVersion: 'brain.Event:2' });
      raw.forEach((e, i) => assert.equal(e.wallTime, wallTimeOf(i), `event ${i} wall time`));

      for (const tag of ['train/loss', 'train/lr', 'train/bytes_sent']) {
        const got = tb.scalars[tag]!.map((e) => [e.step, e.value]);
        const want = scalars.map((s) => [s.step, Math.fround(s.values[tag]!)]);
        assert.deepEqual(got, want, `${tag}: -want +got`);
      }
      assert.deepEqual(tb.scalars['eval/clean_accuracy'], [{ step: 2 ** 40, wallTime: wallTimeOf(42), value: Math.fround(0.9875) }]);

      const config = tb.tensors.config!;
      assert.equal(config.plugin, 'text');
      assert.equal(config.dataClass, 2, 'DATA_CLASS_TENSOR');
      assert.deepEqual(config.events, [{ step: 0, wallTime: wallTimeOf(1), dtype: 7, dims: 0, strings: [text] }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is checked: a record with a flipped bit is dropped by TensorBoard (so the CRCs above were verified)', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dat-tb-'));
    try {
      const writer = createEventFileWriter(dir);
      for (let step = 1; step <= 3; step++) writer.addScalars(step, { x: step });
      writer.close();
      const data = await readFile(writer.path);
      data[data.length - 1]! ^= 1; // the last record's data CRC
      await writeFile(writer.path, data);
      const tb = await readTensorBoard(dir);
      assert.deepEqual(tb.scalars.x!.map((e) => e.step), [1, 2]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
