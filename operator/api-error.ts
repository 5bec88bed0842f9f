/**
 * API server errors as one typed error that says what retrying can do.
 *
 * - transient: the server could not answer now (5xx, 429 Too Many Requests,
 *   409 Conflict on a stale resourceVersion, or no HTTP answer at all); the
 *   work queue retries soon with its per-key backoff.
 * - refused: the server answered and said no (400 Bad Request, 403 Forbidden
 *   from an admission plugin or a quota, 404 of a referenced object, 413/422
 *   for an object it will not store). Retrying at once cannot help: the job is
 *   marked Blocked with the server's message and retried with a long backoff,
 *   because what refused it (a missing ServiceAccount, a quota, a policy) may
 *   be fixed in the cluster without any change to the job.
 *
 * 409 AlreadyExists on create is not an error at all (deterministic names):
 * apply.ts treats it as success before classifying.
 */
import { ApiException } from '@kubernetes/client-node';
import { DatError, getErrorMessage } from '../common/errors.js';

/** How a failed API call may be retried. */
export const API_ERROR_KINDS = { transient: 'transient', refused: 'refused' } as const;
export type ApiErrorKind = (typeof API_ERROR_KINDS)[keyof typeof API_ERROR_KINDS];

/** An API call that failed, with its HTTP status and the server's own message. */
export class ApiError extends DatError {
  /** HTTP status; undefined when no HTTP answer came back (connection error, timeout). */
  readonly code: number | undefined;
  readonly kind: ApiErrorKind;
  /** The API server's `Status.message` (or the client error's message). */
  readonly apiMessage: string;

  constructor(context: string, code: number | undefined, apiMessage: string, cause?: unknown) {
    const kind = classifyApiStatus(code);
    super(`${context}: ${code === undefined ? '' : `HTTP ${code}: `}${apiMessage}`, { retryable: kind === API_ERROR_KINDS.transient, cause });
    this.code = code;
    this.kind = kind;
    this.apiMessage = apiMessage;
  }
}

/** transient for no answer, 5xx, 429 and 409; refused for every other status. */
export function classifyApiStatus(code: number | undefined): ApiErrorKind {
  if (code === undefined || code >= 500 || code === 429 || code === 409) return API_ERROR_KINDS.transient;
  return API_ERROR_KINDS.refused;
}

/** HTTP status of an API error, if it is one. */
export function apiErrorCode(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.code;
  if (err instanceof ApiException) return err.code;
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'number') return err.code;
  return undefined;
}

/** Short reason from an API error body (the server's `message`), else the error's message. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.apiMessage;
  if (err instanceof ApiException) {
    const body: unknown = typeof err.body === 'string' ? safeParse(err.body) : err.body;
    if (body !== null && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  }
  return getErrorMessage(err);
}

/** Wraps a failed call with context (`failed to create pod ns/name`), classified by its status. */
export function toApiError(context: string, err: unknown): ApiError {
  return new ApiError(context, apiErrorCode(err), apiErrorMessage(err), err);
}

/** The first refused {@link ApiError} in `err` or its chain of causes (aggregated errors keep theirs there). */
export function findRefusal(err: unknown): ApiError | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof ApiError) return e.kind === API_ERROR_KINDS.refused ? e : undefined;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}
