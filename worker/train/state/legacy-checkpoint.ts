/**
 * Reads checkpoints of format version 1, the fixed layout written before the
 * parts (rank 0's meta held `chief: { position, fingerprint, optimizer,
 * guard, loop }`; compression memories were `residual/<name>`, a rank > 0's
 * BatchNorm statistics `model/non-trainable`), by translating them into the
 * current layout. A run killed before an upgrade resumes after it.
 */
import { PART_SCOPES, type PartIndex, type PartScope } from '../../checkpoint/checkpoint-part.js';
import { LOCAL_MOMENTUM_PART } from '../../comm/compression/local-momentum.js';
import { SIGN_EF_PART } from '../../comm/compression/sign-ef.js';
import type { RunFingerprint } from '../run-config.js';
import { BATCH_NORM_PART } from './batch-norm-part.js';
import { GUARD_PART } from './guard-part.js';
import { LOOP_PART } from './loop-state.js';
import { OPTIMIZER_PART, type OptimizerMeta } from './optimizer-part.js';
import { WEIGHTS_PART } from './weights-part.js';

const LEGACY_VERSION = 1;
/** The translated meta carries the current version (2) so the caller's version check passes. */
const TRANSLATED_VERSION = 2;

interface LegacyMeta {
  readonly version: 1;
  readonly rank: number;
  readonly globalStep: number;
  readonly chief?: {
    readonly position: object;
    readonly fingerprint: RunFingerprint;
    readonly optimizer: OptimizerMeta;
    readonly guard?: { readonly bestAccuracy: number; readonly bestEpoch: number };
    readonly loop: object;
  };
}

export function isLegacyCheckpoint(meta: unknown): meta is LegacyMeta {
  return meta !== null && typeof meta === 'object' && (meta as { version?: unknown }).version === LEGACY_VERSION;
}

/** Version 1 names of tensors that moved into a part: old name → [part, name]. */
function renamed(name: string): [string, string] | undefined {
  if (name === 'model/non-trainable') return [BATCH_NORM_PART, 'statistics'];
  const momentum = /^residual\/momentum\/(\d+)$/.exec(name);
  if (momentum !== null) return [LOCAL_MOMENTUM_PART, momentum[1]!];
  if (name.startsWith('residual/')) return [SIGN_EF_PART, name.slice('residual/'.length)];
  return undefined;
}

/** The version-1 file as the current layout: the same tensors under part names, and a part index. */
export function translateLegacyCheckpoint(meta: LegacyMeta, tensors: ReadonlyMap<string, Float32Array>): { meta: unknown; tensors: Map<string, Float32Array> } {
  const parts: Record<string, { scope: PartScope; meta?: unknown; tensors: string[] }> = {};
  const out = new Map<string, Float32Array>();
  const add = (key: string, scope: PartScope, name: string | undefined, arr: Float32Array | undefined): void => {
    parts[key] ??= { scope, tensors: [] };
    if (name === undefined) return;
    parts[key]!.tensors.push(name);
    if (arr !== undefined) out.set(`${key}/${name}`, arr);
  };
  const chief = meta.chief;
  if (chief !== undefined) {
    // A listed tensor that is absent stays absent, so decoding reports it by name.
    add(WEIGHTS_PART, PART_SCOPES.run, 'weights', tensors.get('model/weights'));
    parts[WEIGHTS_PART]!.meta = { count: chief.fingerprint?.weightCount };
    add(OPTIMIZER_PART, PART_SCOPES.run, undefined, undefined);
    parts[OPTIMIZER_PART]!.meta = chief.optimizer;
    for (const slot of chief.optimizer?.slots ?? []) add(OPTIMIZER_PART, PART_SCOPES.run, slot.name, tensors.get(`optimizer/${slot.name}`));
    if (chief.guard !== undefined) {
      const best = tensors.get('guard/best-weights');
      add(GUARD_PART, PART_SCOPES.run, best !== undefined ? 'best-weights' : undefined, best);
      parts[GUARD_PART]!.meta = chief.guard;
    }
    add(LOOP_PART, PART_SCOPES.run, undefined, undefined);
    parts[LOOP_PART]!.meta = { ...chief.loop, ...chief.position };
  }
  for (const [name, arr] of tensors) {
    const to = renamed(name);
    if (to !== undefined) add(to[0], PART_SCOPES.rank, to[1], arr);
  }
  const index: PartIndex = parts;
  return { meta: { version: TRANSLATED_VERSION, rank: meta.rank, globalStep: meta.globalStep, ...(chief !== undefined ? { fingerprint: chief.fingerprint } : {}), parts: index }, tensors: out };
}
