/**
 * Entry point of the `dat` command (`bin/dat.js` imports the compiled file).
 * Wiring only: the logic lives in worker/cli/run-cli.ts.
 */
import { runCli } from './cli/run-cli.js';
import { ProcessStopSignals } from './cli/stop-signals.js';
import { EXIT_GRACE_MS, exitWithin } from './util/exit-guard.js';

const signals = new ProcessStopSignals(process, process.stderr);
process.exitCode = await runCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr, signals });
exitWithin(EXIT_GRACE_MS, (open) => void process.stderr.write(`dat: warning: forced exit ${EXIT_GRACE_MS} ms after the end: still open: ${[...new Set(open)].join(', ')}\n`));
