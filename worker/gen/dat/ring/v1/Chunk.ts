// Original file: proto/ring.proto

import type { Phase as _dat_ring_v1_Phase, Phase__Output as _dat_ring_v1_Phase__Output } from '../../../dat/ring/v1/Phase.js';
import type { Long } from '@grpc/proto-loader';

export interface Chunk {
  'seq'?: (number | string | Long);
  /**
   * Ring step, 0 .. 2(N-1)-1 for all-reduce, 0 .. N-2 for gather.
   */
  'step'?: (number);
  'phase'?: (_dat_ring_v1_Phase);
  /**
   * All-reduce: index of the ring chunk (buffer slice). Gather: origin rank of the block.
   * All-to-all: destination rank.
   */
  'chunkIndex'?: (number);
  /**
   * Index of this message within the chunk (chunks are split into <= 1 MiB messages).
   */
  'part'?: (number);
  'senderRank'?: (number);
  /**
   * Total bytes of the chunk this part belongs to (lets gather blocks have any length).
   */
  'chunkBytes'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * Alignment padding (0 to 3 bytes, content ignored), written before `data` so
   * the float payload starts 4-byte aligned in the receiver's buffer and can be
   * reduced in place instead of being copied first.
   */
  'pad'?: (Buffer | Uint8Array | string);
}

export interface Chunk__Output {
  'seq': (number);
  /**
   * Ring step, 0 .. 2(N-1)-1 for all-reduce, 0 .. N-2 for gather.
   */
  'step': (number);
  'phase': (_dat_ring_v1_Phase__Output);
  /**
   * All-reduce: index of the ring chunk (buffer slice). Gather: origin rank of the block.
   * All-to-all: destination rank.
   */
  'chunkIndex': (number);
  /**
   * Index of this message within the chunk (chunks are split into <= 1 MiB messages).
   */
  'part': (number);
  'senderRank': (number);
  /**
   * Total bytes of the chunk this part belongs to (lets gather blocks have any length).
   */
  'chunkBytes': (number);
  'data': (Buffer);
  /**
   * Alignment padding (0 to 3 bytes, content ignored), written before `data` so
   * the float payload starts 4-byte aligned in the receiver's buffer and can be
   * reduced in place instead of being copied first.
   */
  'pad': (Buffer);
}
