/**
 * `node dist/worker/data/warm-cache.js [mnist] [fashion-mnist]`: builds the
 * built-in datasets' binary cache ahead of time (an image build step or an
 * init container), so training workers start on the fast path. Prints one
 * JSON line per dataset: { dataset, n, fromCache, ms, cachePath }.
 * Honours `$DAT_CACHE_DIR`. Exit code 4 (badData) when a dataset cannot be read.
 */
import { EXIT_CODES } from '../../common/contract.js';
import { DataError, getErrorMessage } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { DATASET_IDS } from './constants.js';
import { loadBuiltinRaw, type BuiltinId } from './builtin-datasets.js';
import { resolveCacheDirs } from './dataset-cache.js';

const BUILTINS: readonly BuiltinId[] = [DATASET_IDS.mnist, DATASET_IDS.fashionMnist];

function isBuiltin(s: string): s is BuiltinId {
  return (BUILTINS as readonly string[]).includes(s);
}

async function main(argv: readonly string[]): Promise<number> {
  const log = createLogger({ component: 'warm-cache' });
  const ids = argv.length === 0 ? BUILTINS : argv;
  for (const id of ids) {
    if (!isBuiltin(id)) {
      log.error('Rejected unknown built-in dataset', { dataset: id, accepted: BUILTINS.join(',') });
      return EXIT_CODES.badConfig;
    }
  }
  for (const id of ids as readonly BuiltinId[]) {
    const r = await loadBuiltinRaw(id, resolveCacheDirs(), log);
    process.stdout.write(JSON.stringify({ dataset: id, n: r.raw.n, fromCache: r.fromCache, ms: Math.round(r.ms), cachePath: r.cachePath ?? null }) + '\n');
  }
  return EXIT_CODES.success;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`warm-cache: ${getErrorMessage(err)}\n`);
    process.exitCode = err instanceof DataError ? EXIT_CODES.badData : EXIT_CODES.failure;
  },
);
