import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortRequest as _dat_ring_v1_AbortRequest, AbortRequest__Output as _dat_ring_v1_AbortRequest__Output } from './dat/ring/v1/AbortRequest.js';
import type { AbortResponse as _dat_ring_v1_AbortResponse, AbortResponse__Output as _dat_ring_v1_AbortResponse__Output } from './dat/ring/v1/AbortResponse.js';
import type { Chunk as _dat_ring_v1_Chunk, Chunk__Output as _dat_ring_v1_Chunk__Output } from './dat/ring/v1/Chunk.js';
import type { HealthRequest as _dat_ring_v1_HealthRequest, HealthRequest__Output as _dat_ring_v1_HealthRequest__Output } from './dat/ring/v1/HealthRequest.js';
import type { HealthResponse as _dat_ring_v1_HealthResponse, HealthResponse__Output as _dat_ring_v1_HealthResponse__Output } from './dat/ring/v1/HealthResponse.js';
import type { JoinRequest as _dat_ring_v1_JoinRequest, JoinRequest__Output as _dat_ring_v1_JoinRequest__Output } from './dat/ring/v1/JoinRequest.js';
import type { JoinResponse as _dat_ring_v1_JoinResponse, JoinResponse__Output as _dat_ring_v1_JoinResponse__Output } from './dat/ring/v1/JoinResponse.js';
import type { PullRequest as _dat_ring_v1_PullRequest, PullRequest__Output as _dat_ring_v1_PullRequest__Output } from './dat/ring/v1/PullRequest.js';
import type { RingClient as _dat_ring_v1_RingClient, RingDefinition as _dat_ring_v1_RingDefinition } from './dat/ring/v1/Ring.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  dat: {
    ring: {
      v1: {
        AbortRequest: MessageTypeDefinition<_dat_ring_v1_AbortRequest, _dat_ring_v1_AbortRequest__Output>
        AbortResponse: MessageTypeDefinition<_dat_ring_v1_AbortResponse, _dat_ring_v1_AbortResponse__Output>
        Chunk: MessageTypeDefinition<_dat_ring_v1_Chunk, _dat_ring_v1_Chunk__Output>
        HealthRequest: MessageTypeDefinition<_dat_ring_v1_HealthRequest, _dat_ring_v1_HealthRequest__Output>
        HealthResponse: MessageTypeDefinition<_dat_ring_v1_HealthResponse, _dat_ring_v1_HealthResponse__Output>
        JoinRequest: MessageTypeDefinition<_dat_ring_v1_JoinRequest, _dat_ring_v1_JoinRequest__Output>
        JoinResponse: MessageTypeDefinition<_dat_ring_v1_JoinResponse, _dat_ring_v1_JoinResponse__Output>
        OpKind: EnumTypeDefinition
        Phase: EnumTypeDefinition
        PullRequest: MessageTypeDefinition<_dat_ring_v1_PullRequest, _dat_ring_v1_PullRequest__Output>
        Ring: SubtypeConstructor<typeof grpc.Client, _dat_ring_v1_RingClient> & { service: _dat_ring_v1_RingDefinition }
        WireFormat: EnumTypeDefinition
      }
    }
  }
}

