/** Maps a thrown error to the process exit code of the worker contract. */
import { EXIT_CODES, type ExitCode } from '../../common/contract.js';
import { ConfigError, DataError } from '../../common/errors.js';

/**
 * ConfigError → 2 (permanent), DataError → 4 (permanent); an error carrying a
 * numeric `exitCode` (e.g. a ring failure, 3) keeps it; anything else → 1.
 */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof ConfigError) return EXIT_CODES.badConfig;
  if (err instanceof DataError) return EXIT_CODES.badData;
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  const known: readonly number[] = Object.values(EXIT_CODES);
  if (typeof code === 'number' && known.includes(code)) return code as ExitCode;
  return EXIT_CODES.failure;
}
