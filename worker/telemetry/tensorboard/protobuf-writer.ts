/**
 * The few protobuf wire-format encodings an Event needs (varint, 64- and
 * 32-bit fixed, length-delimited), so the worker writes TensorBoard files
 * without a protobuf runtime or generated code. Fields are appended in the
 * order given; decoders accept any order.
 */

/** Protobuf wire types (the protobuf encoding spec, protobuf.dev/programming-guides/encoding). */
const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

const utf8 = new TextEncoder();

/** Builds one message; `finish()` returns its bytes. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  private key(field: number, wire: number): this {
    return this.push(encodeVarint(BigInt(field) * 8n + BigInt(wire)));
  }

  /** An int64 / int32 / enum field (non-negative values: all an Event holds). */
  uint(field: number, value: number | bigint): this {
    return this.key(field, WIRE.varint).push(encodeVarint(BigInt(value)));
  }

  double(field: number, value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    return this.key(field, WIRE.fixed64).push(b);
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.key(field, WIRE.fixed32).push(b);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.key(field, WIRE.bytes).push(encodeVarint(BigInt(value.length))).push(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message. */
  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Base-128 varint of a non-negative integer. */
export function encodeVarint(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError(`varint of a negative value ${value}: not needed by Event and not supported`);
  const out: number[] = [];
  let v = value;
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Uint8Array.from(out);
}
