/**
 * The arithmetic the update rules (optimizers/update-rules.ts) and the L-inf
 * attack step (attacks/sign-step.ts) are written against, once, and lowered
 * twice: to eager tfjs tensors (eager-ops.ts) and to TensorFlow graph nodes
 * (worker/backend/native/graph/graph-ops.ts).
 *
 * Why: the eager step and the compiled graphs must compute the same numbers
 * op for op (the equivalence tests compare them bit for bit). One definition
 * against this interface makes that hold by construction instead of by two
 * hand-kept copies.
 *
 * Each method is one kernel in both lowerings (l2Norm excepted, which is the
 * same three in both), so a rule's op order is the same wherever it runs.
 * Scalars are float32, broadcast against tensors.
 */

/** Operations on values of type `T` (a tensor, or a graph node's name). */
export interface NumOps<T> {
  /** A float32 scalar constant. */
  scalar(v: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  /** Elementwise max(a, b). */
  maximum(a: T, b: T): T;
  /** Elementwise min(a, b). */
  minimum(a: T, b: T): T;
  square(a: T): T;
  sqrt(a: T): T;
  /** −1, 0 or 1 per element. */
  sign(a: T): T;
  /** Ones of a's shape. */
  onesLike(a: T): T;
  /** Clamps every element into [lo, hi]. */
  clip(a: T, lo: number, hi: number): T;
  /** ‖a‖₂ over every element, as a scalar: sqrt(sum(square(a))). */
  l2Norm(a: T): T;
  /** Boolean a > b. */
  greater(a: T, b: T): T;
  /** Boolean a && b. */
  logicalAnd(a: T, b: T): T;
  /** a where cond holds, else b. */
  where(cond: T, a: T, b: T): T;
}
