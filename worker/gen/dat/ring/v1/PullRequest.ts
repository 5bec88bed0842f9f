// Original file: proto/ring.proto

import type { OpKind as _dat_ring_v1_OpKind, OpKind__Output as _dat_ring_v1_OpKind__Output } from '../../../dat/ring/v1/OpKind.js';
import type { WireFormat as _dat_ring_v1_WireFormat, WireFormat__Output as _dat_ring_v1_WireFormat__Output } from '../../../dat/ring/v1/WireFormat.js';
import type { Long } from '@grpc/proto-loader';

export interface PullRequest {
  /**
   * Operation sequence number: every rank calls collectives in the same order.
   */
  'seq'?: (number | string | Long);
  /**
   * Rank of the caller (the receiver of the chunks).
   */
  'receiverRank'?: (number);
  'kind'?: (_dat_ring_v1_OpKind);
  /**
   * All-reduce: number of float32 elements the caller reduces (negotiated buffer size).
   */
  'totalElements'?: (number | string | Long);
  'wire'?: (_dat_ring_v1_WireFormat);
  'worldSize'?: (number);
}

export interface PullRequest__Output {
  /**
   * Operation sequence number: every rank calls collectives in the same order.
   */
  'seq': (number);
  /**
   * Rank of the caller (the receiver of the chunks).
   */
  'receiverRank': (number);
  'kind': (_dat_ring_v1_OpKind__Output);
  /**
   * All-reduce: number of float32 elements the caller reduces (negotiated buffer size).
   */
  'totalElements': (number);
  'wire': (_dat_ring_v1_WireFormat__Output);
  'worldSize': (number);
}
