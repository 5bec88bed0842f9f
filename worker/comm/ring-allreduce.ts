/**
 * The ring algorithms, independent of the transport: the gRPC ring
 * (grpc-ring-collective.ts) and the raw-TCP ring (tcp-ring.ts) run exactly this
 * code over their own links.
 *
 * All-reduce (bandwidth-optimal ring, as in baidu-allreduce / NCCL):
 * 1. Split the L-element buffer into N ring chunks, chunk i = [⌊iL/N⌋, ⌊(i+1)L/N⌋).
 * 2. Reduce-scatter, steps 0..N-2: rank r sends chunk (r-s) to its right and
 *    adds chunk (r-1-s) arriving from its left; afterwards it owns chunk r+1.
 * 3. All-gather, steps N-1..2N-3: the reduced chunks circulate; each rank
 *    copies what arrives and forwards it.
 * Each rank sends 2(N-1)/N of the buffer. Ring chunks are split into parts of
 * at most `maxMessageBytes`; the chunk a rank sends at step s+1 is exactly the
 * one it received at step s, so each part is forwarded as soon as it has been
 * reduced: part k+1 is on the wire while part k is being added (pipelining).
 *
 * Every received message is checked against the one expected next (sequence
 * number, step, phase, chunk, part, sender, sizes); anything else fails the
 * operation with a {@link RingError} naming the sender. Never a wrong sum.
 * Values must be finite: a NaN or Inf in this rank's input, or in a partial
 * or reduced sum that arrives, fails the operation (and, through the
 * transport's abort, the step on every rank) instead of spreading into every
 * rank's model.
 */
import { decodeHalf, encodeHalf, addHalfInto } from './half.js';
import { RING_FAILURES, RingError } from './ring-errors.js';
import { copyChecked, firstNonFinite, sumIntoChecked } from './reduce-kernels.js';

export { firstNonFinite } from './reduce-kernels.js';
import { PHASES, WIRE_FORMATS, type RingMessage, type WireFormatValue } from './ring-message.js';

/** Default size of one wire message: the top of the 256 KiB–1 MiB band; measured on this machine (N = 3, 64 MiB), 1 MiB messages cut gRPC CPU per all-reduce by ~15% against 512 KiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Largest block one rank may contribute to a gather (sanity bound against a corrupt length). */
export const MAX_GATHER_BLOCK_BYTES = 2 ** 31;

/** Where the algorithm runs: this rank, the operation, and limits. */
export interface RingContext {
  readonly rank: number;
  readonly worldSize: number;
  /** Operation sequence number; all ranks call collectives in the same order. */
  readonly seq: number;
  readonly maxMessageBytes: number;
  /** Deadline for each message to arrive. */
  readonly hopTimeoutMs: number;
  /** A peer's name for error messages, e.g. `rank 2 (127.0.0.1:40111)`. */
  describePeer(rank: number): string;
}

/** The sending half of a hop: `send` encodes (copies) synchronously and queues; the transport honours backpressure. */
export interface RingSendLink {
  send(msg: RingMessage): void;
}

/** The receiving half of a hop (a {@link MessageQueue}). */
export interface RingReceiveLink {
  next(timeoutMs: number, onTimeout: () => Error): Promise<RingMessage>;
}

export const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** Element range [start, end) of ring chunk `i` of an `length`-element buffer split `n` ways. */
export function chunkBounds(length: number, n: number, i: number): readonly [number, number] {
  return [Math.floor((i * length) / n), Math.floor(((i + 1) * length) / n)];
}

/** Number of wire messages for `units` units of which at most `perPart` fit in one message (at least one). */
export function partCount(units: number, perPart: number): number {
  return Math.max(1, Math.ceil(units / perPart));
}

/** Bytes one rank sends in a ring all-reduce of `length` float32 elements (payload only). */
export function ringAllreduceBytesPerRank(length: number, n: number, rank: number, bytesPerElement = 4): number {
  let total = 0;
  for (let s = 0; s < 2 * (n - 1); s++) {
    const c = s < n - 1 ? mod(rank - s, n) : mod(rank + 1 - (s - (n - 1)), n);
    const [a, b] = chunkBounds(length, n, c);
    total += (b - a) * bytesPerElement;
  }
  return total;
}

interface Expected {
  readonly step: number;
  readonly phase: number;
  readonly chunkIndex: number;
  readonly part: number;
  readonly senderRank: number;
  /** Undefined: taken from the message (first part of a gather block). */
  readonly chunkBytes?: number;
  /** Undefined: derived from chunkBytes by the caller. */
  readonly dataBytes?: number;
}

/** Throws a malformed-message {@link RingError} when `msg` is not the one expected. */
export function checkMessage(msg: RingMessage, exp: Expected, ctx: RingContext): void {
  const problems: string[] = [];
  const field = (name: string, got: number, want: number): void => {
    if (got !== want) problems.push(`${name} ${got}, expected ${want}`);
  };
  field('seq', msg.seq, ctx.seq);
  field('step', msg.step, exp.step);
  field('phase', msg.phase, exp.phase);
  field('chunk index', msg.chunkIndex, exp.chunkIndex);
  field('part', msg.part, exp.part);
  field('sender rank', msg.senderRank, exp.senderRank);
  if (exp.chunkBytes !== undefined) field('chunk size', msg.chunkBytes, exp.chunkBytes);
  if (exp.dataBytes !== undefined) field('data size', msg.data.byteLength, exp.dataBytes);
  if (problems.length > 0) {
    throw new RingError(`rank ${ctx.rank} rejected a malformed message from ${ctx.describePeer(exp.senderRank)}: ${problems.join('; ')}`, {
      failure: RING_FAILURES.malformed,
      peerRank: exp.senderRank,
    });
  }
}

function receiveTimeout(ctx: RingContext, from: number, what: string): () => Error {
  return () =>
    new RingError(`rank ${ctx.rank} timed out after ${ctx.hopTimeoutMs} ms waiting for ${what} from ${ctx.describePeer(from)}`, {
      failure: RING_FAILURES.timeout,
      peerRank: from,
    });
}

function nonFiniteError(ctx: RingContext, what: string, peerRank: number): RingError {
  return new RingError(`rank ${ctx.rank} ${what} (seq ${ctx.seq}); a non-finite gradient fails the step on every rank instead of corrupting the model`, {
    failure: RING_FAILURES.nonFinite,
    peerRank,
  });
}

/** A float32 view of `data`, copying through `scratch` when the bytes are not 4-byte aligned. */
function viewFloat32(data: Uint8Array, scratch: Uint8Array): Float32Array {
  const n = data.byteLength >>> 2;
  if (data.byteOffset % 4 === 0) return new Float32Array(data.buffer, data.byteOffset, n);
  scratch.set(data);
  return new Float32Array(scratch.buffer, 0, n);
}

/**
 * Ring all-reduce (sum) of `input` with the left and right neighbours; returns
 * a new array (or, with `inPlace`, `input` holding the sum), identical bits on
 * every rank. `wire` f16 sends partial sums as binary16 and accumulates in
 * float32.
 */
export async function ringAllreduce(
  input: Float32Array,
  ctx: RingContext,
  right: RingSendLink,
  left: RingReceiveLink,
  wire: WireFormatValue = WIRE_FORMATS.f32,
  inPlace = false,
): Promise<Float32Array> {
  const n = ctx.worldSize;
  const r = ctx.rank;
  const bpe = wire === WIRE_FORMATS.f16 ? 2 : 4;
  // With the f32 wire every output element is written exactly once (reduce-scatter writes input + incoming,
  // all-gather copies), so the input is never copied whole, and only chunk r, which this rank sends
  // unchecked at step 0, is checked up front; every other chunk is checked as part of its sum (step 2).
  // In place, a sum overwrites the input it would name, so the whole input is checked up front instead.
  const direct = n > 1 && bpe === 4 && !inPlace;
  const [ownA, ownB] = direct ? chunkBounds(input.length, n, r) : [0, input.length];
  const bad = firstNonFinite(input.subarray(ownA, ownB));
  if (bad >= 0) throw nonFiniteError(ctx, `has a non-finite gradient: element ${ownA + bad} is ${input[ownA + bad]}`, r);
  // The typed-array constructor copies with memcpy; Float32Array.from iterates (measured ~6x slower at 64 MiB).
  const out = inPlace ? input : direct ? new Float32Array(input.length) : new Float32Array(input);
  if (n === 1) return out;
  const leftRank = mod(r - 1, n);
  const partElems = Math.max(1, Math.floor(ctx.maxMessageBytes / bpe));
  const steps = 2 * (n - 1);
  const sendChunkAt = (s: number): number => (s < n - 1 ? mod(r - s, n) : mod(r + 1 - (s - (n - 1)), n));
  const recvChunkAt = (s: number): number => (s < n - 1 ? mod(r - 1 - s, n) : mod(r - (s - (n - 1)), n));
  const phaseAt = (s: number): number => (s < n - 1 ? PHASES.reduceScatter : PHASES.allGather);
  const encode = (region: Float32Array): Uint8Array =>
    bpe === 2 ? encodeHalf(region) : new Uint8Array(region.buffer, region.byteOffset, region.byteLength);
  const send = (s: number, c: number, p: number, chunkLen: number, data: Uint8Array): void =>
    right.send({ seq: ctx.seq, step: s, phase: phaseAt(s), chunkIndex: c, part: p, senderRank: r, chunkBytes: chunkLen * bpe, data });
  const scratch = new Uint8Array(partElems * 4);

  // Step 0: send our own chunk r, all parts at once (the transport queues them).
  {
    const c = sendChunkAt(0);
    const [a, b] = chunkBounds(out.length, n, c);
    for (let p = 0; p < partCount(b - a, partElems); p++) {
      const lo = a + p * partElems;
      send(0, c, p, b - a, encode(input.subarray(lo, Math.min(b, lo + partElems))));
    }
  }
  for (let s = 0; s < steps; s++) {
    const c = recvChunkAt(s);
    const [a, b] = chunkBounds(out.length, n, c);
    const parts = partCount(b - a, partElems);
    for (let p = 0; p < parts; p++) {
      const lo = a + p * partElems;
      const region = out.subarray(lo, Math.min(b, lo + partElems));
      const msg = await left.next(ctx.hopTimeoutMs, receiveTimeout(ctx, leftRank, `step ${s} part ${p} of chunk ${c} (seq ${ctx.seq})`));
      checkMessage(msg, { step: s, phase: phaseAt(s), chunkIndex: c, part: p, senderRank: leftRank, chunkBytes: (b - a) * bpe, dataBytes: region.length * bpe }, ctx);
      if (s < n - 1) {
        // Step 2: reduce-scatter. Add the partial sum, then forward it (at s = N-2 this is the owned, fully reduced chunk).
        let badSum: number;
        if (bpe === 2) {
          addHalfInto(region, msg.data);
          badSum = firstNonFinite(region);
        } else {
          const own = input.subarray(lo, lo + region.length);
          badSum = sumIntoChecked(region, own, viewFloat32(msg.data, scratch));
          const badOwn = badSum >= 0 && !inPlace ? firstNonFinite(own) : -1;
          if (badOwn >= 0) throw nonFiniteError(ctx, `has a non-finite gradient: element ${lo + badOwn} is ${own[badOwn]}`, r);
        }
        // Inputs are checked by their owners, so a non-finite sum is a bad partial sum from the left or an overflow.
        if (badSum >= 0) throw nonFiniteError(ctx, `got a non-finite partial sum from ${ctx.describePeer(leftRank)}: element ${lo + badSum} is ${region[badSum]} at step ${s}`, leftRank);
        if (s === n - 2 && bpe === 2) {
          // The owner keeps exactly what the others will decode, so all ranks hold the same bits.
          const bytes = encodeHalf(region);
          decodeHalf(bytes, region);
          // A finite sum above the binary16 range (65504) becomes Inf here: fail before anyone receives it.
          const badHalf = firstNonFinite(region);
          if (badHalf >= 0) throw nonFiniteError(ctx, `reduced element ${lo + badHalf} to ${region[badHalf]}: the sum exceeds the f16 wire range`, r);
          send(s + 1, c, p, b - a, bytes);
        } else {
          send(s + 1, c, p, b - a, encode(region));
        }
      } else {
        // Step 3: all-gather. Copy the reduced part and forward the very same bytes.
        let badReduced: number;
        if (bpe === 2) {
          decodeHalf(msg.data, region);
          badReduced = firstNonFinite(region);
        } else {
          badReduced = copyChecked(region, viewFloat32(msg.data, scratch));
        }
        if (badReduced >= 0) throw nonFiniteError(ctx, `got a non-finite reduced value from ${ctx.describePeer(leftRank)}: element ${lo + badReduced} is ${region[badReduced]} at step ${s}`, leftRank);
        if (s + 1 < steps) send(s + 1, c, p, b - a, msg.data);
      }
    }
  }
  return out;
}

/**
 * Ring gather: every rank's block (any length) on every rank, indexed by rank.
 * N-1 steps; at step s rank r forwards the block of rank r-s.
 */
export async function ringGather(block: Uint8Array, ctx: RingContext, right: RingSendLink, left: RingReceiveLink): Promise<Uint8Array[]> {
  const n = ctx.worldSize;
  const r = ctx.rank;
  const result: Uint8Array[] = new Array<Uint8Array>(n);
  result[r] = Uint8Array.from(block);
  if (n === 1) return result;
  const leftRank = mod(r - 1, n);
  const size = ctx.maxMessageBytes;
  const sendBlock = (s: number, origin: number, data: Uint8Array): void => {
    for (let p = 0; p < partCount(data.byteLength, size); p++) {
      right.send({
        seq: ctx.seq, step: s, phase: PHASES.gather, chunkIndex: origin, part: p, senderRank: r,
        chunkBytes: data.byteLength, data: data.subarray(p * size, (p + 1) * size),
      });
    }
  };
  sendBlock(0, r, block);
  for (let s = 0; s < n - 1; s++) {
    const origin = mod(r - 1 - s, n);
    const what = (p: number): string => `gather step ${s} part ${p} of rank ${origin}'s block (seq ${ctx.seq})`;
    const first = await left.next(ctx.hopTimeoutMs, receiveTimeout(ctx, leftRank, what(0)));
    checkMessage(first, { step: s, phase: PHASES.gather, chunkIndex: origin, part: 0, senderRank: leftRank }, ctx);
    const total = first.chunkBytes;
    if (total > MAX_GATHER_BLOCK_BYTES) {
      throw new RingError(`rank ${r} rejected a malformed message from ${ctx.describePeer(leftRank)}: block of ${total} bytes exceeds ${MAX_GATHER_BLOCK_BYTES}`, {
        failure: RING_FAILURES.malformed, peerRank: leftRank,
      });
    }
    const buf = new Uint8Array(total);
    const parts = partCount(total, size);
    for (let p = 0; p < parts; p++) {
      const msg = p === 0 ? first : await left.next(ctx.hopTimeoutMs, receiveTimeout(ctx, leftRank, what(p)));
      const want = Math.min(size, total - p * size);
      checkMessage(msg, { step: s, phase: PHASES.gather, chunkIndex: origin, part: p, senderRank: leftRank, chunkBytes: total, dataBytes: want }, ctx);
      buf.set(msg.data, p * size);
      if (s + 1 < n - 1) {
        right.send({ seq: ctx.seq, step: s + 1, phase: PHASES.gather, chunkIndex: origin, part: p, senderRank: r, chunkBytes: total, data: msg.data });
      }
    }
    result[origin] = buf;
  }
  return result;
}

/** Direct links to every peer, for all-to-all. */
export interface MeshLinks {
  sender(peer: number): RingSendLink;
  receiver(peer: number): RingReceiveLink;
}

/** All-to-all: `blocks[j]` goes to rank j; returns what every rank sent to this one, indexed by sender. */
export async function allToAll(blocks: readonly Uint8Array[], ctx: RingContext, links: MeshLinks): Promise<Uint8Array[]> {
  const n = ctx.worldSize;
  const r = ctx.rank;
  if (blocks.length !== n) throw new RangeError(`allToAll needs ${n} blocks (one per rank), got ${blocks.length}`);
  const size = ctx.maxMessageBytes;
  for (let peer = 0; peer < n; peer++) {
    if (peer === r) continue;
    const data = blocks[peer]!;
    const link = links.sender(peer);
    for (let p = 0; p < partCount(data.byteLength, size); p++) {
      link.send({ seq: ctx.seq, step: 0, phase: PHASES.allToAll, chunkIndex: peer, part: p, senderRank: r, chunkBytes: data.byteLength, data: data.subarray(p * size, (p + 1) * size) });
    }
  }
  const receiveFrom = async (peer: number): Promise<Uint8Array> => {
    const link = links.receiver(peer);
    const what = (p: number): string => `all-to-all part ${p} (seq ${ctx.seq})`;
    const first = await link.next(ctx.hopTimeoutMs, receiveTimeout(ctx, peer, what(0)));
    checkMessage(first, { step: 0, phase: PHASES.allToAll, chunkIndex: r, part: 0, senderRank: peer }, ctx);
    const total = first.chunkBytes;
    if (total > MAX_GATHER_BLOCK_BYTES) {
      throw new RingError(`rank ${r} rejected a malformed message from ${ctx.describePeer(peer)}: block of ${total} bytes exceeds ${MAX_GATHER_BLOCK_BYTES}`, {
        failure: RING_FAILURES.malformed, peerRank: peer,
      });
    }
    const buf = new Uint8Array(total);
    for (let p = 0; p < partCount(total, size); p++) {
      const msg = p === 0 ? first : await link.next(ctx.hopTimeoutMs, receiveTimeout(ctx, peer, what(p)));
      checkMessage(msg, { step: 0, phase: PHASES.allToAll, chunkIndex: r, part: p, senderRank: peer, chunkBytes: total, dataBytes: Math.min(size, total - p * size) }, ctx);
      buf.set(msg.data, p * size);
    }
    return buf;
  };
  const peers = Array.from({ length: n }, (_, j) => j).filter((j) => j !== r);
  const received = await Promise.all(peers.map(receiveFrom));
  const result: Uint8Array[] = new Array<Uint8Array>(n);
  result[r] = Uint8Array.from(blocks[r]!);
  peers.forEach((j, i) => (result[j] = received[i]!));
  return result;
}
