/**
 * The V8 garbage-collector setting of a process that runs a ring rank.
 *
 * Why: every message the ring moves is a fresh Buffer inside grpc-js (and
 * Node's sockets), so V8 keeps starting incremental marking of a small old
 * generation ("external memory pressure"), and while marking is on, every
 * allocation and write pays for it. Measured on the 2-core development
 * machine (docs/collective.md): with incremental marking off, grpc-js
 * received a ring rank's 85 MiB for about half the CPU, and the gRPC ring's
 * 64 MiB all-reduce at N = 3 took about half the CPU per rank. Full
 * collections then run in one pause instead of in steps, which a training
 * worker's small JavaScript heap (its tensors live outside it) keeps short.
 *
 * DAT_RING_GC_TUNING=0 keeps V8's default (to compare, or to rule it out).
 */
import { setFlagsFromString } from 'node:v8';

export const RING_GC_TUNING_ENV = 'DAT_RING_GC_TUNING';

/** The V8 flag this module sets. */
export const RING_GC_FLAG = '--no-incremental-marking';

/** Applies the setting to this process unless turned off; returns whether it did. Idempotent. */
export function tuneGcForRing(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[RING_GC_TUNING_ENV] === '0') return false;
  setFlagsFromString(RING_GC_FLAG);
  return true;
}
