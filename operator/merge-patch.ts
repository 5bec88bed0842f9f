/** JSON merge patch (RFC 7386) between two plain JSON values: removed keys become `null`. */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Builds the merge patch that turns `before` into `after`. Arrays are replaced
 * whole (merge-patch semantics); `undefined` counts as absent.
 */
export function buildMergePatch(before: unknown, after: unknown): Json | undefined {
  if (!isObject(before) || !isObject(after)) {
    return JSON.stringify(before) === JSON.stringify(after) ? undefined : (toJson(after) ?? null);
  }
  const patch: Record<string, Json> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key];
    const b = after[key];
    if (b === undefined) {
      if (a !== undefined) patch[key] = null;
      continue;
    }
    if (a === undefined) {
      patch[key] = toJson(b) ?? null;
      continue;
    }
    const sub = buildMergePatch(a, b);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

function toJson(v: unknown): Json | undefined {
  return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as Json);
}
