// Original file: proto/ring.proto

import type { Long } from '@grpc/proto-loader';

export interface AbortRequest {
  /**
   * Rank that detected the failure first.
   */
  'originRank'?: (number);
  'seq'?: (number | string | Long);
  /**
   * Human-readable cause, naming the failed peer.
   */
  'reason'?: (string);
}

export interface AbortRequest__Output {
  /**
   * Rank that detected the failure first.
   */
  'originRank': (number);
  'seq': (number);
  /**
   * Human-readable cause, naming the failed peer.
   */
  'reason': (string);
}
