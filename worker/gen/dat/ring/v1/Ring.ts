// Original file: proto/ring.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortRequest as _dat_ring_v1_AbortRequest, AbortRequest__Output as _dat_ring_v1_AbortRequest__Output } from '../../../dat/ring/v1/AbortRequest.js';
import type { AbortResponse as _dat_ring_v1_AbortResponse, AbortResponse__Output as _dat_ring_v1_AbortResponse__Output } from '../../../dat/ring/v1/AbortResponse.js';
import type { Chunk as _dat_ring_v1_Chunk, Chunk__Output as _dat_ring_v1_Chunk__Output } from '../../../dat/ring/v1/Chunk.js';
import type { HealthRequest as _dat_ring_v1_HealthRequest, HealthRequest__Output as _dat_ring_v1_HealthRequest__Output } from '../../../dat/ring/v1/HealthRequest.js';
import type { HealthResponse as _dat_ring_v1_HealthResponse, HealthResponse__Output as _dat_ring_v1_HealthResponse__Output } from '../../../dat/ring/v1/HealthResponse.js';
import type { JoinRequest as _dat_ring_v1_JoinRequest, JoinRequest__Output as _dat_ring_v1_JoinRequest__Output } from '../../../dat/ring/v1/JoinRequest.js';
import type { JoinResponse as _dat_ring_v1_JoinResponse, JoinResponse__Output as _dat_ring_v1_JoinResponse__Output } from '../../../dat/ring/v1/JoinResponse.js';
import type { PullRequest as _dat_ring_v1_PullRequest, PullRequest__Output as _dat_ring_v1_PullRequest__Output } from '../../../dat/ring/v1/PullRequest.js';

export interface RingClient extends grpc.Client {
  /**
   * Tells the server rank to fail its current and future operations (a peer failed).
   */
  Abort(argument: _dat_ring_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _dat_ring_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _dat_ring_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _dat_ring_v1_AbortRequest, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Tells the server rank to fail its current and future operations (a peer failed).
   */
  abort(argument: _dat_ring_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _dat_ring_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _dat_ring_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _dat_ring_v1_AbortRequest, callback: grpc.requestCallback<_dat_ring_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Liveness probe; reports the operation the server rank is in.
   */
  Health(argument: _dat_ring_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _dat_ring_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _dat_ring_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _dat_ring_v1_HealthRequest, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Liveness probe; reports the operation the server rank is in.
   */
  health(argument: _dat_ring_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _dat_ring_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _dat_ring_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _dat_ring_v1_HealthRequest, callback: grpc.requestCallback<_dat_ring_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Rendezvous: checks the caller belongs to the same ring (world size, job, incarnation).
   */
  Join(argument: _dat_ring_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _dat_ring_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _dat_ring_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _dat_ring_v1_JoinRequest, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Rendezvous: checks the caller belongs to the same ring (world size, job, incarnation).
   */
  join(argument: _dat_ring_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _dat_ring_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _dat_ring_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _dat_ring_v1_JoinRequest, callback: grpc.requestCallback<_dat_ring_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Streams the chunks the server rank sends to the caller in operation `seq`.
   */
  Pull(argument: _dat_ring_v1_PullRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dat_ring_v1_Chunk__Output>;
  Pull(argument: _dat_ring_v1_PullRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dat_ring_v1_Chunk__Output>;
  /**
   * Streams the chunks the server rank sends to the caller in operation `seq`.
   */
  pull(argument: _dat_ring_v1_PullRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dat_ring_v1_Chunk__Output>;
  pull(argument: _dat_ring_v1_PullRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dat_ring_v1_Chunk__Output>;
  
}

export interface RingHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Tells the server rank to fail its current and future operations (a peer failed).
   */
  Abort: grpc.handleUnaryCall<_dat_ring_v1_AbortRequest__Output, _dat_ring_v1_AbortResponse>;
  
  /**
   * Liveness probe; reports the operation the server rank is in.
   */
  Health: grpc.handleUnaryCall<_dat_ring_v1_HealthRequest__Output, _dat_ring_v1_HealthResponse>;
  
  /**
   * Rendezvous: checks the caller belongs to the same ring (world size, job, incarnation).
   */
  Join: grpc.handleUnaryCall<_dat_ring_v1_JoinRequest__Output, _dat_ring_v1_JoinResponse>;
  
  /**
   * Streams the chunks the server rank sends to the caller in operation `seq`.
   */
  Pull: grpc.handleServerStreamingCall<_dat_ring_v1_PullRequest__Output, _dat_ring_v1_Chunk>;
  
}

export interface RingDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_dat_ring_v1_AbortRequest, _dat_ring_v1_AbortResponse, _dat_ring_v1_AbortRequest__Output, _dat_ring_v1_AbortResponse__Output>
  Health: MethodDefinition<_dat_ring_v1_HealthRequest, _dat_ring_v1_HealthResponse, _dat_ring_v1_HealthRequest__Output, _dat_ring_v1_HealthResponse__Output>
  Join: MethodDefinition<_dat_ring_v1_JoinRequest, _dat_ring_v1_JoinResponse, _dat_ring_v1_JoinRequest__Output, _dat_ring_v1_JoinResponse__Output>
  Pull: MethodDefinition<_dat_ring_v1_PullRequest, _dat_ring_v1_Chunk, _dat_ring_v1_PullRequest__Output, _dat_ring_v1_Chunk__Output>
}
