/** Typed errors shared by the worker and the operator: each says whether retrying can help. */

/** Base error: `retryable` tells a caller (or the operator, via the exit code) whether to try again. */
export class DatError extends Error {
  readonly retryable: boolean;
  constructor(message: string, opts: { retryable: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable;
  }
}

/** A configuration or option value that can never work: exit code 2, no restart. */
export class ConfigError extends DatError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: false, cause });
  }
}

/** A dataset file is missing or malformed: permanent. */
export class DataError extends DatError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: false, cause });
  }
}

/** Narrows an unknown thrown value to a message. */
export function getErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** Wraps `err` with context, keeping it as the cause and keeping its retryability. */
export function wrapError(context: string, err: unknown): DatError {
  const retryable = err instanceof DatError ? err.retryable : true;
  return new DatError(`${context}: ${getErrorMessage(err)}`, { retryable, cause: err });
}
