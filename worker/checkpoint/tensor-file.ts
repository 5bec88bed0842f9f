/**
 * A small self-describing container for named Float32Arrays plus JSON
 * metadata: the body of every checkpoint file.
 *
 * Layout: magic `DATCKPT1` | u32le header length | header JSON | float32 data.
 * The header lists each entry's name, offset and length; readers check every
 * bound against the file size, so a truncated or corrupted file is an error
 * that names the file, never a crash or a silently short tensor.
 */
import { DataError } from '../../common/errors.js';

const MAGIC = Buffer.from('DATCKPT1', 'ascii');
/** Headers are tiny; a larger value means corruption, not a real checkpoint. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

interface EntryHeader {
  readonly name: string;
  /** Byte offset of the data, from the start of the data section. */
  readonly offset: number;
  /** Number of float32 elements. */
  readonly length: number;
}

interface FileHeader {
  readonly entries: readonly EntryHeader[];
  readonly meta: unknown;
}

/** Decoded contents of a tensor file. */
export interface TensorFileContents<M = unknown> {
  readonly meta: M;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

/** Encodes named arrays and metadata into one buffer. */
export function encodeTensorFile(tensors: ReadonlyMap<string, Float32Array>, meta: unknown): Buffer {
  const entries: EntryHeader[] = [];
  let offset = 0;
  for (const [name, arr] of tensors) {
    entries.push({ name, offset, length: arr.length });
    offset += arr.byteLength;
  }
  const header = Buffer.from(JSON.stringify({ entries, meta } satisfies FileHeader), 'utf8');
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + offset);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  let pos = MAGIC.length + 4 + header.length;
  for (const arr of tensors.values()) {
    Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(out, pos);
    pos += arr.byteLength;
  }
  return out;
}

/** Decodes a buffer written by {@link encodeTensorFile}; `file` names it in errors. */
export function decodeTensorFile<M = unknown>(buf: Buffer, file: string): TensorFileContents<M> {
  const fail = (what: string): never => {
    throw new DataError(`checkpoint file ${file} is malformed: ${what}`);
  };
  if (buf.length < MAGIC.length + 4) fail(`truncated: ${buf.length} bytes is shorter than the header`);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) fail('bad magic (not a dat checkpoint file)');
  const headerLen = buf.readUInt32LE(MAGIC.length);
  if (headerLen > MAX_HEADER_BYTES || MAGIC.length + 4 + headerLen > buf.length) {
    fail(`header length ${headerLen} exceeds the file size ${buf.length}`);
  }
  let header: FileHeader;
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLen).toString('utf8')) as FileHeader;
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!header || !Array.isArray(header.entries)) fail('header has no entry list');
  const dataStart = MAGIC.length + 4 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, Float32Array>();
  for (const e of header.entries) {
    // A corrupted header may hold anything in the list (null, numbers): check the shape before reading fields.
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || !Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset < 0 || e.length < 0) {
      fail(`entry ${JSON.stringify(e)} is invalid`);
    }
    if (e.offset % 4 !== 0 || e.offset + e.length * 4 > dataLen) {
      fail(`entry ${e.name} (offset ${e.offset}, ${e.length} floats) runs past the end of the data (${dataLen} bytes)`);
    }
    if (tensors.has(e.name)) fail(`entry ${e.name} appears twice`);
    // Copy out: the caller may keep the arrays after the file buffer is gone, and alignment is not guaranteed.
    const arr = new Float32Array(e.length);
    Buffer.from(arr.buffer).set(buf.subarray(dataStart + e.offset, dataStart + e.offset + e.length * 4));
    tensors.set(e.name, arr);
  }
  return { meta: header.meta as M, tensors };
}
