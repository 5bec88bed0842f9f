/**
 * Child process for select-backend.test.ts: selects the named backend and
 * prints `{ backend, logLevel }` as one JSON line on stdout, so the parent can
 * inspect what libtensorflow wrote to stderr while loading.
 */
import { selectBackend, TF_LOG_LEVEL_ENV } from '../../../worker/backend/select-backend.js';
import type { BackendId } from '../../../common/contract.js';
import { silentLogger } from '../../../common/log.js';

const requested = (process.argv[2] ?? 'tensorflow') as BackendId;
const info = await selectBackend(requested, silentLogger);
// One op, so kernels that log lazily (oneDNN) have had their chance.
info.tf.tidy(() => info.tf.matMul(info.tf.ones([8, 8]), info.tf.ones([8, 8])).dataSync());
process.stdout.write(`${JSON.stringify({ backend: info.name, logLevel: process.env[TF_LOG_LEVEL_ENV] ?? null })}\n`);
