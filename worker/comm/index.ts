/** Public API of the collective layer: transports, hooks and gradient compression. */
export type { Collective, AllreduceOptions, CollectiveCallOptions, GradientReducer, WireDtype } from './collective.js';
export { identityReducer } from './collective.js';
export { GrpcRingCollective, type GrpcRingOptions } from './grpc-ring-collective.js';
export { listenGrpcRing, startLocalGrpcRing, type ListeningRing, type RingPortOptions } from './start-grpc-ring.js';
export { createRingServer, RING_CHANNEL_OPTIONS, RING_SERVER_OPTIONS } from './transport.js';
export { listenRingServer, RingBindError, type RingListener, type RingListenerOptions, type RingServerTls } from './ring-listener.js';
export { TcpRingCollective, type TcpRingOptions } from './tcp-ring.js';
export { createLoopbackGroup } from './loopback-collective.js';
export { RingError, RING_FAILURES, UnsupportedOperationError, type RingFailure } from './ring-errors.js';
export { createAllreduceHook, withCompression, withWarmup, type CommHook, type CommState, type Compressor, type GradBucket } from './hooks.js';
export { createGradientReducer, createCommHook, meanBytesPerStep, type CommStats, type ReducerOptions } from './compression/create-reducer.js';
