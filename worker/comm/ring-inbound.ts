/**
 * Inbound side of a gRPC ring hop: the `Pull` stream this rank opens to a
 * peer for one operation, feeding a {@link MessageQueue} that the ring
 * algorithm reads. Reads are pull-based: when the reducer falls behind, the
 * stream is paused, so the HTTP/2 window fills and the sender waits.
 */
import type * as grpc from '@grpc/grpc-js';
import type { RingClient } from '../gen/dat/ring/v1/Ring.js';
import type { PullRequest } from '../gen/dat/ring/v1/PullRequest.js';
import { MessageQueue } from './message-queue.js';
import type { RingMessage } from './ring-message.js';

/** Pause a Pull stream when this many messages wait to be reduced. */
const RECEIVE_HIGH_WATER = 32;

/** One incoming stream: what a sender sends this rank in one operation. */
export interface Inbound {
  readonly queue: MessageQueue;
  readonly call: grpc.ClientReadableStream<unknown>;
  /** Set once the operation is over: a later stream error is no failure. */
  done: boolean;
}

/** Callbacks of {@link openInbound}. */
export interface InboundEvents {
  /** The stream failed (not called once `done` is set, nor for a normal end). */
  onError(e: grpc.ServiceError): void;
  /** The stream ended, normally or not. */
  onClosed(): void;
  /** A message of `bytes` encoded bytes arrived. */
  onBytes(bytes: number): void;
}

/** Opens the Pull stream for `request` with an absolute `deadline`. */
export function openInbound(client: RingClient, request: PullRequest, deadline: number, events: InboundEvents): Inbound {
  const queue = new MessageQueue();
  const call = client.pull(request, { deadline });
  const inb: Inbound = { queue, call, done: false };
  call.on('data', (m: RingMessage) => {
    events.onBytes(m.encodedBytes ?? m.data.byteLength);
    queue.push(m);
    if (queue.length >= RECEIVE_HIGH_WATER) call.pause();
  });
  queue.onDrained = () => call.resume();
  call.on('error', (e: grpc.ServiceError) => {
    events.onClosed();
    if (!inb.done) events.onError(e);
  });
  call.on('end', () => events.onClosed());
  // A non-OK status also arrives as 'error' (handled above); an OK one needs nothing.
  call.on('status', () => undefined);
  return inb;
}
