// Original file: proto/ring.proto

/**
 * What kind of operation a Pull is for; both ends must agree.
 */
export const OpKind = {
  OP_KIND_UNSPECIFIED: 0,
  OP_KIND_ALLREDUCE: 1,
  OP_KIND_GATHER: 2,
  OP_KIND_ALL_TO_ALL: 3,
} as const;

/**
 * What kind of operation a Pull is for; both ends must agree.
 */
export type OpKind =
  | 'OP_KIND_UNSPECIFIED'
  | 0
  | 'OP_KIND_ALLREDUCE'
  | 1
  | 'OP_KIND_GATHER'
  | 2
  | 'OP_KIND_ALL_TO_ALL'
  | 3

/**
 * What kind of operation a Pull is for; both ends must agree.
 */
export type OpKind__Output = typeof OpKind[keyof typeof OpKind]
