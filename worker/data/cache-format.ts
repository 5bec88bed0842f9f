/**
 * The dataset cache's binary format (pure encode/decode, no I/O).
 *
 * Layout, little-endian:
 *   0  8 bytes  magic "DATDSET\0"
 *   8  u32      format version
 *  12  u32      n (examples)
 *  16  u32      height
 *  20  u32      width
 *  24  u32      channels
 *  28  u32      CRC-32 of the source fingerprint (a package upgrade invalidates the entry)
 *  32  u32      CRC-32 of the payload
 *  36  u32      payload bytes
 *  40..64       zero padding
 *  64  n*h*w*c pixel bytes, then n label bytes
 */
import { crc32 } from 'node:zlib';
import type { RawImages } from './raw-images.js';
import { imageBytes } from './raw-images.js';

export const CACHE_MAGIC = 'DATDSET\0';
export const CACHE_VERSION = 1;
export const CACHE_HEADER_BYTES = 64;

/** Either the decoded images or why the bytes cannot be trusted. */
export type DecodeResult = { readonly ok: true; readonly raw: RawImages } | { readonly ok: false; readonly reason: string };

/** Serializes `raw` with a header; `fingerprint` identifies the source it was parsed from. */
export function encodeCache(raw: RawImages, fingerprint: string): Buffer {
  const size = imageBytes(raw);
  const payloadBytes = raw.n * size + raw.n;
  const buf = Buffer.alloc(CACHE_HEADER_BYTES + payloadBytes);
  buf.write(CACHE_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(CACHE_VERSION, 8);
  buf.writeUInt32LE(raw.n, 12);
  buf.writeUInt32LE(raw.shape[0], 16);
  buf.writeUInt32LE(raw.shape[1], 20);
  buf.writeUInt32LE(raw.shape[2], 24);
  buf.writeUInt32LE(crc32(fingerprint), 28);
  buf.set(raw.pixels.subarray(0, raw.n * size), CACHE_HEADER_BYTES);
  buf.set(raw.labels.subarray(0, raw.n), CACHE_HEADER_BYTES + raw.n * size);
  const payload = buf.subarray(CACHE_HEADER_BYTES);
  buf.writeUInt32LE(crc32(payload), 32);
  buf.writeUInt32LE(payloadBytes, 36);
  return buf;
}

/**
 * Parses a cache entry, checking magic, version, fingerprint, size and
 * checksum. The returned arrays view `buf` (no copy).
 */
export function decodeCache(buf: Uint8Array, fingerprint: string): DecodeResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < CACHE_HEADER_BYTES) return { ok: false, reason: `truncated header: ${b.length} bytes` };
  if (b.toString('latin1', 0, 8) !== CACHE_MAGIC) return { ok: false, reason: 'bad magic' };
  const version = b.readUInt32LE(8);
  if (version !== CACHE_VERSION) return { ok: false, reason: `version ${version}, expected ${CACHE_VERSION}` };
  const n = b.readUInt32LE(12);
  const shape = [b.readUInt32LE(16), b.readUInt32LE(20), b.readUInt32LE(24)] as const;
  if (b.readUInt32LE(28) !== crc32(fingerprint)) return { ok: false, reason: 'built from a different source' };
  const size = shape[0] * shape[1] * shape[2];
  const payloadBytes = n * size + n;
  if (b.readUInt32LE(36) !== payloadBytes || b.length !== CACHE_HEADER_BYTES + payloadBytes) {
    return { ok: false, reason: `size mismatch: expected ${CACHE_HEADER_BYTES + payloadBytes} bytes, got ${b.length}` };
  }
  const payload = b.subarray(CACHE_HEADER_BYTES);
  if (crc32(payload) !== b.readUInt32LE(32)) return { ok: false, reason: 'checksum mismatch' };
  const pixels = new Uint8Array(b.buffer, b.byteOffset + CACHE_HEADER_BYTES, n * size);
  const labels = new Uint8Array(b.buffer, b.byteOffset + CACHE_HEADER_BYTES + n * size, n);
  return { ok: true, raw: { n, shape, pixels, labels } };
}
