/**
 * MNIST IDX files (dataset id `mnist-idx`): `train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
 * each optionally gzipped (`.gz`). The `train-images.idx3-ubyte` spelling
 * some mirrors use is accepted too.
 *
 * Format (big-endian): magic 0x00000803 (images) or 0x00000801 (labels),
 * then one u32 per dimension (count; rows, cols for images), then the bytes.
 */
import { DataError } from '../../common/errors.js';
import { IDX_FILES, IDX_MAGIC, NUM_CLASSES } from './constants.js';
import { checkDataDir, readDataFile } from './data-files.js';
import type { RawImages } from './raw-images.js';

/** Largest image side accepted: a larger header value means a corrupt file, not a real image. */
const MAX_SIDE = 4096;

/** Parsed IDX images: `n` images of rows x cols bytes. */
export interface IdxImages {
  readonly n: number;
  readonly rows: number;
  readonly cols: number;
  readonly pixels: Uint8Array;
}

function checkMagic(buf: Uint8Array, file: string, want: number, what: string): void {
  const dims = want & 0xff;
  const headerBytes = 4 + 4 * dims;
  if (buf.length < headerBytes) throw new DataError(`${file}: truncated: expected at least ${headerBytes} header bytes got ${buf.length}`);
  const magic = Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0);
  if (magic !== want) {
    throw new DataError(`${file}: bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${want.toString(16).padStart(8, '0')} (IDX ${what}, unsigned bytes, ${dims} dimension${dims > 1 ? 's' : ''})`);
  }
}

function checkSize(buf: Uint8Array, file: string, expected: number): void {
  if (buf.length < expected) throw new DataError(`${file}: truncated: expected ${expected} bytes got ${buf.length}`);
  if (buf.length > expected) throw new DataError(`${file}: wrong size: expected ${expected} bytes got ${buf.length} (trailing data after the last item)`);
}

/** Parses an IDX3 image file; `file` names it in errors. */
export function parseIdxImages(buf: Uint8Array, file: string): IdxImages {
  checkMagic(buf, file, IDX_MAGIC.images, 'images');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (n === 0 || rows === 0 || cols === 0 || rows > MAX_SIDE || cols > MAX_SIDE) {
    throw new DataError(`${file}: wrong dims ${n}x${rows}x${cols}: expected a non-zero count and sides in [1, ${MAX_SIDE}]`);
  }
  checkSize(buf, file, 16 + n * rows * cols);
  return { n, rows, cols, pixels: buf.subarray(16) };
}

/** Parses an IDX1 label file, checking each label is below `numClasses`. */
export function parseIdxLabels(buf: Uint8Array, file: string, numClasses: number = NUM_CLASSES): Uint8Array {
  checkMagic(buf, file, IDX_MAGIC.labels, 'labels');
  const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(4);
  if (n === 0) throw new DataError(`${file}: wrong dims: 0 labels`);
  checkSize(buf, file, 8 + n);
  const labels = buf.subarray(8);
  for (let i = 0; i < n; i++) {
    if (labels[i]! >= numClasses) throw new DataError(`${file}: label ${labels[i]} out of range [0, ${numClasses}) at index ${i}`);
  }
  return labels;
}

/** Reads and checks one images + labels pair. */
async function readPair(dir: string, imagesName: string, labelsName: string): Promise<RawImages> {
  const img = await readDataFile(dir, [imagesName, dottedName(imagesName)]);
  const images = parseIdxImages(img.bytes, img.path);
  const lab = await readDataFile(dir, [labelsName, dottedName(labelsName)]);
  const labels = parseIdxLabels(lab.bytes, lab.path);
  if (labels.length !== images.n) {
    throw new DataError(`${lab.path}: count mismatch: ${labels.length} labels but ${img.path} has ${images.n} images`);
  }
  return { n: images.n, shape: [images.rows, images.cols, 1], pixels: images.pixels, labels };
}

/** `train-images-idx3-ubyte` → `train-images.idx3-ubyte` (a common re-upload spelling). */
function dottedName(name: string): string {
  return name.replace(/-(idx\d-ubyte)$/, '.$1');
}

/** Reads the four MNIST IDX files from `dir`: the train and test splits, as published. */
export async function readMnistIdx(dir: string): Promise<{ train: RawImages; test: RawImages }> {
  await checkDataDir(dir, 'mnist-idx');
  const train = await readPair(dir, IDX_FILES.trainImages, IDX_FILES.trainLabels);
  const test = await readPair(dir, IDX_FILES.testImages, IDX_FILES.testLabels);
  if (train.shape[0] !== test.shape[0] || train.shape[1] !== test.shape[1]) {
    throw new DataError(`${dir}: wrong dims: train images are ${train.shape[0]}x${train.shape[1]} but test images are ${test.shape[0]}x${test.shape[1]}`);
  }
  return { train, test };
}
