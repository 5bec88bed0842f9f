// Original file: proto/ring.proto

import type { Long } from '@grpc/proto-loader';

export interface HealthResponse {
  'rank'?: (number);
  /**
   * Sequence number of the last operation this rank started.
   */
  'seq'?: (number | string | Long);
  /**
   * "ok" or "aborted".
   */
  'state'?: (string);
}

export interface HealthResponse__Output {
  'rank': (number);
  /**
   * Sequence number of the last operation this rank started.
   */
  'seq': (number);
  /**
   * "ok" or "aborted".
   */
  'state': (string);
}
