// Original file: proto/ring.proto

/**
 * Element type of an all-reduce on the wire (the sum is always accumulated in float32).
 */
export const WireFormat = {
  WIRE_FORMAT_F32: 0,
  WIRE_FORMAT_F16: 1,
} as const;

/**
 * Element type of an all-reduce on the wire (the sum is always accumulated in float32).
 */
export type WireFormat =
  | 'WIRE_FORMAT_F32'
  | 0
  | 'WIRE_FORMAT_F16'
  | 1

/**
 * Element type of an all-reduce on the wire (the sum is always accumulated in float32).
 */
export type WireFormat__Output = typeof WireFormat[keyof typeof WireFormat]
