// Original file: proto/ring.proto

/**
 * Which part of a collective a chunk belongs to.
 */
export const Phase = {
  PHASE_UNSPECIFIED: 0,
  /**
   * All-reduce, first half: partial sums travel around the ring.
   */
  PHASE_REDUCE_SCATTER: 1,
  /**
   * All-reduce, second half: reduced chunks travel around the ring.
   */
  PHASE_ALL_GATHER: 2,
  /**
   * allgather / broadcast / barrier: whole per-rank blocks travel around the ring.
   */
  PHASE_GATHER: 3,
  /**
   * All-to-all: one block sent directly to each peer.
   */
  PHASE_ALL_TO_ALL: 4,
} as const;

/**
 * Which part of a collective a chunk belongs to.
 */
export type Phase =
  | 'PHASE_UNSPECIFIED'
  | 0
  /**
   * All-reduce, first half: partial sums travel around the ring.
   */
  | 'PHASE_REDUCE_SCATTER'
  | 1
  /**
   * All-reduce, second half: reduced chunks travel around the ring.
   */
  | 'PHASE_ALL_GATHER'
  | 2
  /**
   * allgather / broadcast / barrier: whole per-rank blocks travel around the ring.
   */
  | 'PHASE_GATHER'
  | 3
  /**
   * All-to-all: one block sent directly to each peer.
   */
  | 'PHASE_ALL_TO_ALL'
  | 4

/**
 * Which part of a collective a chunk belongs to.
 */
export type Phase__Output = typeof Phase[keyof typeof Phase]
