/**
 * A minimal protobuf (proto3 wire format) encoder: just what writing a
 * TensorFlow SavedModel needs (varints, 32-bit floats, length-delimited
 * fields). Why not a library: the only protobuf runtime installed is
 * protobufjs behind @grpc/proto-loader, and encoding through it would need
 * TensorFlow's .proto files, which are not shipped with any package here.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private rawVarint(v: bigint): void {
    // Negative int32/int64 values are encoded as 10-byte two's complement.
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    do {
      let byte = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) byte |= 0x80;
      this.buf[this.len++] = byte;
    } while (u !== 0n);
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  /** An int32/int64/enum/bool field. Zero is written too (callers skip defaults when they want). */
  varint(field: number, v: number | bigint | boolean): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v));
    return this;
  }

  /** A `float` field. */
  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
    return this;
  }

  /** A `bytes` field (or an already encoded message). */
  bytes(field: number, v: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(v.length));
    this.ensure(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
    return this;
  }

  /** A `string` field (UTF-8). */
  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  /** A nested message field, written by `write` into a fresh writer. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed `repeated int64/int32` field. */
  packedVarints(field: number, vs: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of vs) inner.rawVarint(BigInt(v));
    return this.bytes(field, inner.finish());
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
