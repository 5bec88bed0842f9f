/**
 * The CIFAR-10 binary version (dataset id `cifar10`): `data_batch_1.bin` ..
 * `data_batch_5.bin` (train) and `test_batch.bin`, in `--data-dir` or in its
 * `cifar-10-batches-bin/` folder (what the official tarball extracts to).
 * Each file is a run of 3073-byte records: one label byte, then 3072 pixel
 * bytes channel-major (1024 red, 1024 green, 1024 blue, rows top to bottom).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../../common/errors.js';
import { CIFAR10, NUM_CLASSES } from './constants.js';
import { checkDataDir, readDataFile } from './data-files.js';
import type { RawImages } from './raw-images.js';

const PLANE = CIFAR10.side * CIFAR10.side;

/** Parses one batch file into HWC bytes; `file` names it in errors. */
export function parseCifarBatch(buf: Uint8Array, file: string): RawImages {
  const rec = CIFAR10.recordBytes;
  if (buf.length === 0) throw new DataError(`${file}: empty file: expected records of ${rec} bytes`);
  if (buf.length % rec !== 0) {
    const whole = Math.ceil(buf.length / rec);
    throw new DataError(`${file}: truncated: expected ${whole * rec} bytes (${whole} records of ${rec}) got ${buf.length}`);
  }
  const n = buf.length / rec;
  const pixels = new Uint8Array(n * PLANE * CIFAR10.channels);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * rec;
    const label = buf[base]!;
    if (label >= NUM_CLASSES) throw new DataError(`${file}: label ${label} out of range [0, ${NUM_CLASSES}) in record ${i}`);
    labels[i] = label;
    // CHW → HWC: the trainer's tensors are NHWC.
    const out = i * PLANE * CIFAR10.channels;
    for (let c = 0; c < CIFAR10.channels; c++) {
      const src = base + 1 + c * PLANE;
      for (let p = 0; p < PLANE; p++) pixels[out + p * CIFAR10.channels + c] = buf[src + p]!;
    }
  }
  return { n, shape: [CIFAR10.side, CIFAR10.side, CIFAR10.channels], pixels, labels };
}

function concatRaw(parts: readonly RawImages[]): RawImages {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const pixels = new Uint8Array(parts.reduce((a, p) => a + p.pixels.length, 0));
  const labels = new Uint8Array(n);
  let px = 0;
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, px);
    labels.set(p.labels, at);
    px += p.pixels.length;
    at += p.n;
  }
  return { n, shape: parts[0]!.shape, pixels, labels };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Reads the five training batches and the test batch from `dir` (or its `cifar-10-batches-bin/`). */
export async function readCifar10(dir: string): Promise<{ train: RawImages; test: RawImages }> {
  await checkDataDir(dir, 'cifar10');
  const nested = join(dir, CIFAR10.subdir);
  const root = (await isDir(nested)) ? nested : dir;
  const parts: RawImages[] = [];
  for (const name of CIFAR10.trainFiles) {
    const f = await readDataFile(root, [name]);
    parts.push(parseCifarBatch(f.bytes, f.path));
  }
  const t = await readDataFile(root, [CIFAR10.testFile]);
  return { train: concatRaw(parts), test: parseCifarBatch(t.bytes, t.path) };
}
