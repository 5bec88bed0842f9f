/**
 * Entry point of the `dat` command (`bin/dat.js` imports the compiled file).
 * Wiring only: the logic lives in worker/cli/run-cli.ts.
 */
import { runCli } from './cli/run-cli.js';
import { installPid1SignalHandlers } from './cli/pid1-signals.js';

installPid1SignalHandlers(process, process.stderr);
process.exitCode = await runCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
