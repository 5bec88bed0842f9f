/**
 * The ring's data message (`dat.ring.v1.Chunk` in proto/ring.proto) and a
 * hand-written protobuf codec for it.
 *
 * Why not protobufjs: the chunk is the hot path (hundreds of MiB per step) and
 * protobufjs copies `bytes` on decode and builds an object per field. This
 * codec writes the same wire format (checked against proto-loader in
 * test/worker/comm/ring-message.test.ts), copies the payload once on encode and
 * never on decode (`data` is a view into the received buffer). On request it
 * pads the header (`pad`, field 9) so the payload lands 4-byte aligned in the
 * receiver's buffer, where the reducer can use it as a Float32Array in place.
 */

/** Values of the `Phase` enum in proto/ring.proto. */
export const PHASES = {
  reduceScatter: 1,
  allGather: 2,
  gather: 3,
  allToAll: 4,
} as const;
export type PhaseValue = (typeof PHASES)[keyof typeof PHASES];

/** Values of the `OpKind` enum in proto/ring.proto. */
export const OP_KINDS = {
  allreduce: 1,
  gather: 2,
  allToAll: 3,
} as const;
export type OpKindValue = (typeof OP_KINDS)[keyof typeof OP_KINDS];

/** Values of the `WireFormat` enum: element type of all-reduce chunks on the wire. */
export const WIRE_FORMATS = {
  f32: 0,
  f16: 1,
} as const;
export type WireFormatValue = (typeof WIRE_FORMATS)[keyof typeof WIRE_FORMATS];

/** One decoded `Chunk`. Field names match the proto-loader output (camelCase). */
export interface RingMessage {
  readonly seq: number;
  readonly step: number;
  readonly phase: number;
  readonly chunkIndex: number;
  readonly part: number;
  readonly senderRank: number;
  readonly chunkBytes: number;
  readonly data: Uint8Array;
  /** Size of the encoded message this was decoded from (set by {@link decodeRingMessage}; wire statistics). */
  readonly encodedBytes?: number;
}

// Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const TAG_SEQ = 0x08;
const TAG_STEP = 0x10;
const TAG_PHASE = 0x18;
const TAG_CHUNK_INDEX = 0x20;
const TAG_PART = 0x28;
const TAG_SENDER = 0x30;
const TAG_CHUNK_BYTES = 0x38;
const TAG_DATA = 0x42;
const TAG_PAD = 0x4a;
/** Field number of `pad`: alignment padding, its content is ignored. */
const FIELD_PAD = 9;
/** Largest `pad` content: 2 to 5 bytes of field (tag, length, content) reach any residue mod 4. */
export const MAX_PAD_BYTES = 3;
/** Upper bound of the encoded header: 8 tags + 7 varints of at most 10 bytes + a length varint, plus the pad field. */
const MAX_HEADER_BYTES = 8 + 8 * 10 + 2 + MAX_PAD_BYTES;
/** Payloads are float32 (or float16) arrays: aligning them to 4 bytes lets the receiver view them in place. */
const PAYLOAD_ALIGN = 4;

/** Bytes of a varint holding `value`. */
function varintBytes(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  // Values are non-negative integers below 2^53; division keeps them exact beyond 32 bits.
  let v = value;
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/** Bytes {@link encodeRingMessageInto} needs, at most, for a payload of `payloadBytes` (header bound plus payload). */
export function encodedBytesBound(payloadBytes: number): number {
  return MAX_HEADER_BYTES + payloadBytes;
}

/** Bytes {@link encodeRingMessageInto} needs for `msg`, at most. */
export function maxEncodedBytes(msg: RingMessage): number {
  return encodedBytesBound(msg.data.byteLength);
}

/**
 * Encodes a chunk into `out` (at least {@link maxEncodedBytes} long), copying
 * `data` once; returns the encoded length. Zero fields are omitted, as protobuf does.
 *
 * With `alignBase`, a `pad` field is inserted before `data` when needed so
 * that `alignBase` plus the payload's offset in the message is a multiple of 4:
 * a transport that receives the message at a known offset of an aligned buffer
 * (gRPC: after its 5-byte length prefix) then gets a payload the reducer can
 * view as a Float32Array without copying it.
 */
export function encodeRingMessageInto(msg: RingMessage, out: Uint8Array, alignBase?: number): number {
  if (out.byteLength < maxEncodedBytes(msg)) throw new RangeError(`ring message needs ${maxEncodedBytes(msg)} bytes of buffer, got ${out.byteLength}`);
  let pos = 0;
  // Unrolled (no per-call array of fields): this runs once per wire message on the hot path.
  pos = writeField(out, pos, TAG_SEQ, msg.seq);
  pos = writeField(out, pos, TAG_STEP, msg.step);
  pos = writeField(out, pos, TAG_PHASE, msg.phase);
  pos = writeField(out, pos, TAG_CHUNK_INDEX, msg.chunkIndex);
  pos = writeField(out, pos, TAG_PART, msg.part);
  pos = writeField(out, pos, TAG_SENDER, msg.senderRank);
  pos = writeField(out, pos, TAG_CHUNK_BYTES, msg.chunkBytes);
  if (msg.data.byteLength > 0) {
    if (alignBase !== undefined) {
      const misalign = (alignBase + pos + 1 + varintBytes(msg.data.byteLength)) % PAYLOAD_ALIGN;
      if (misalign !== 0) {
        // The pad field takes 2 + k bytes (tag, length k, k bytes); it must add (4 - misalign) mod 4.
        const k = (PAYLOAD_ALIGN - misalign + PAYLOAD_ALIGN - 2) % PAYLOAD_ALIGN;
        out[pos++] = TAG_PAD;
        out[pos++] = k;
        out.fill(0, pos, pos + k);
        pos += k;
      }
    }
    out[pos++] = TAG_DATA;
    pos = writeVarint(out, pos, msg.data.byteLength);
    out.set(msg.data, pos);
    pos += msg.data.byteLength;
  }
  return pos;
}

function writeField(out: Uint8Array, pos: number, tag: number, value: number): number {
  if (value === 0) return pos;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`ring message field ${tag >> 3} must be a non-negative integer, got ${value}`);
  out[pos] = tag;
  return writeVarint(out, pos + 1, value);
}

/** Encodes a chunk into a fresh buffer (copies `data` once); `alignBase` as in {@link encodeRingMessageInto}. */
export function encodeRingMessage(msg: RingMessage, alignBase?: number): Buffer {
  const out = Buffer.allocUnsafe(maxEncodedBytes(msg));
  return out.subarray(0, encodeRingMessageInto(msg, out, alignBase));
}

/** Thrown by {@link decodeRingMessage} on bytes that are not a valid `Chunk`. */
export class RingDecodeError extends Error {}

/** Decodes a `Chunk`; `data` is a view into `buf`. Unknown fields are skipped, as protobuf requires. */
export function decodeRingMessage(buf: Buffer): RingMessage {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new RingDecodeError('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    throw new RingDecodeError('varint longer than 10 bytes');
  };
  const m = { seq: 0, step: 0, phase: 0, chunkIndex: 0, part: 0, senderRank: 0, chunkBytes: 0, data: buf.subarray(0, 0) as Uint8Array, encodedBytes: buf.length };
  while (pos < buf.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      const v = readVarint();
      if (field === 1) m.seq = v;
      else if (field === 2) m.step = v;
      else if (field === 3) m.phase = v;
      else if (field === 4) m.chunkIndex = v;
      else if (field === 5) m.part = v;
      else if (field === 6) m.senderRank = v;
      else if (field === 7) m.chunkBytes = v;
    } else if (wire === 2) {
      const len = readVarint();
      if (pos + len > buf.length) throw new RingDecodeError(`length ${len} runs past the end of the message`);
      if (field === 8) m.data = buf.subarray(pos, pos + len);
      else if (field === FIELD_PAD && len > MAX_PAD_BYTES) throw new RingDecodeError(`pad of ${len} bytes exceeds ${MAX_PAD_BYTES}`);
      pos += len;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 1) {
      pos += 8;
    } else {
      throw new RingDecodeError(`unsupported wire type ${wire} for field ${field}`);
    }
  }
  if (pos !== buf.length) throw new RingDecodeError('truncated field');
  return m;
}
