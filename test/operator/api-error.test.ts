import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { ApiError, apiErrorMessage, classifyApiStatus, findRefusal, toApiError } from '../../operator/api-error.js';
import { DatError } from '../../common/errors.js';

test('classifyApiStatus: no answer, 5xx, 429 and 409 are transient; other 4xx are refusals', () => {
  const cases: { code: number | undefined; want: string }[] = [
    { code: undefined, want: 'transient' },
    { code: 500, want: 'transient' },
    { code: 503, want: 'transient' },
    { code: 504, want: 'transient' },
    { code: 429, want: 'transient' },
    { code: 409, want: 'transient' },
    { code: 400, want: 'refused' },
    { code: 403, want: 'refused' },
    { code: 404, want: 'refused' },
    { code: 413, want: 'refused' },
    { code: 422, want: 'refused' },
  ];
  for (const c of cases) assert.equal(classifyApiStatus(c.code), c.want, String(c.code));
});

test('toApiError keeps the server\'s message, the context and the retry semantics', () => {
  const body = JSON.stringify({ kind: 'Status', code: 403, message: 'pods "j-worker-0" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found' });
  const err = toApiError('failed to create pod ns/j-worker-0', new ApiException(403, 'Forbidden', body, {}));
  assert.ok(err instanceof DatError);
  assert.equal(err.code, 403);
  assert.equal(err.kind, 'refused');
  assert.equal(err.retryable, false);
  assert.equal(err.message, 'failed to create pod ns/j-worker-0: HTTP 403: pods "j-worker-0" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found');
  assert.equal(apiErrorMessage(err), 'pods "j-worker-0" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found');
  const down = toApiError('failed to create pod ns/p', new Error('connect ECONNREFUSED 127.0.0.1:6443'));
  assert.deepEqual([down.code, down.kind, down.retryable], [undefined, 'transient', true]);
});

test('findRefusal looks through aggregated errors, and only finds refusals', () => {
  const refused = new ApiError('failed to create pod ns/p', 422, 'invalid');
  const transient = new ApiError('failed to create pod ns/p', 503, 'unavailable');
  const cases: { name: string; err: unknown; want: ApiError | undefined }[] = [
    { name: 'itself', err: refused, want: refused },
    { name: 'as a cause', err: new DatError('failed to create 1 of 2 pods', { retryable: false, cause: refused }), want: refused },
    { name: 'two levels down', err: new Error('outer', { cause: new Error('mid', { cause: refused }) }), want: refused },
    { name: 'a transient one', err: transient, want: undefined },
    { name: 'not an API error', err: new Error('boom'), want: undefined },
    { name: 'not an error', err: 'boom', want: undefined },
  ];
  for (const c of cases) assert.equal(findRefusal(c.err), c.want, c.name);
});
