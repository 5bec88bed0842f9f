/**
 * `dat` end to end, minus process globals (main.ts passes argv, env and the
 * streams): parse, dispatch to the distributed worker, the local launcher or
 * a single-process run, print the final table, map errors to exit codes.
 */
import { EXIT_CODES, WORKER_ENV, type TrainOptions } from '../../common/contract.js';
import { selectBackend } from '../backend/select-backend.js';
import { stepEngineChooser } from '../backend/compile-step.js';
import { runDistributedWorker } from '../distributed/run-distributed-worker.js';
import { launchLocal } from '../launcher/launch-local.js';
import { runTraining, singleProcessContext } from '../train/run-training.js';
import { stopControl, type StopSignals } from '../train/graceful-stop.js';
import { getErrorMessage } from '../../common/errors.js';
import { formatEvalHelp, parseEvalArgs } from '../eval/eval-options.js';
import { runEvalCommand } from '../eval/run-eval.js';
import { createLogger, type Logger } from '../../common/log.js';
import { exitCodeFor } from './exit-code.js';
import { writeTerminationMessage } from './termination-message.js';
import { formatFinalTable } from './final-table.js';
import { formatMainHelp, formatTrainHelp } from './help-text.js';
import { parseCommand } from './parse-args.js';
import { createProgressDisplay, resolveProgressMode, type DisplayOutput } from './progress-display.js';

/** The process surroundings of a CLI run. */
export interface CliIo {
  readonly stdout: DisplayOutput;
  readonly stderr: { write(s: string): unknown };
  /** SIGTERM/SIGINT of this process: training stops gracefully with them (absent in tests: no graceful stop). */
  readonly signals?: StopSignals;
}

/** Trains in this process: backend, runTraining with the identity reducer, progress, final table. */
async function trainSingleProcess(opts: TrainOptions, io: CliIo, baseLog: Logger): Promise<number> {
  const display = createProgressDisplay(opts.progress, io.stdout);
  // In tty mode log lines go through the display so they do not break the redrawn line.
  const log = resolveProgressMode(opts.progress, io.stdout) === 'tty' ? createLogger({}, (l) => display.log(l)) : baseLog;
  try {
    const backend = await selectBackend(opts.backend, log);
    const stop = io.signals !== undefined ? stopControl(io.signals, 0, 1) : undefined;
    const result = await runTraining(opts, singleProcessContext(log, backend.name, (p) => display.update(p), stepEngineChooser(log), stop));
    display.finish();
    if (opts.progress !== 'json' && opts.progress !== 'none') io.stdout.write('\n' + formatFinalTable(result.metrics) + '\n');
    return EXIT_CODES.success;
  } finally {
    display.finish();
  }
}

/** Runs `dat <argv>`; resolves to the exit code (never throws). */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const log = createLogger({}, (l) => io.stderr.write(l + '\n'));
  try {
    if (argv[0] === 'eval') {
      if (argv.slice(1).some((a) => a === '--help' || a === '-h')) {
        io.stdout.write(formatEvalHelp() + '\n');
        return EXIT_CODES.success;
      }
      return await runEvalCommand(parseEvalArgs(argv.slice(1)), env, { stdout: io.stdout, log });
    }
    const parsed = parseCommand(argv, env);
    if (parsed.command === 'help') {
      io.stdout.write((parsed.topic === 'train' ? formatTrainHelp() : formatMainHelp()) + '\n');
      return EXIT_CODES.success;
    }
    const opts = parsed.options;
    if (env[WORKER_ENV.rank] !== undefined) return await runDistributedWorker(opts, io.signals);
    if (opts.workers > 1) return await launchLocal(opts);
    return await trainSingleProcess(opts, io, log);
  } catch (err) {
    const code = exitCodeFor(err);
    io.stderr.write(`dat: error: ${getErrorMessage(err)}\n`);
    // In a pod, the operator reads this as the failure's cause.
    if (env[WORKER_ENV.rank] !== undefined) writeTerminationMessage(getErrorMessage(err), env);
    if (code === EXIT_CODES.failure && err instanceof Error && err.stack !== undefined && env.DAT_DEBUG !== undefined) io.stderr.write(err.stack + '\n');
    return code;
  }
}
