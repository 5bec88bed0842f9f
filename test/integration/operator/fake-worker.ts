/**
 * A stand-in for the `dat train` worker in operator integration tests: it
 * honours the contract's env (rank, metrics port, bind address, restart count)
 * and behaves as its FAKE_* env says, so each test can script a gang.
 *
 *   FAKE_RUN_MS            run this long, then exit (default 3000; 0 = until killed)
 *   FAKE_EXIT_CODE         exit code at the end (default 0)
 *   FAKE_EXIT_RANK         only this rank uses FAKE_EXIT_CODE (others exit 0)
 *   FAKE_EXIT_INCARNATION  only in this DAT_RESTART_COUNT (later incarnations exit 0)
 *   FAKE_STALL             rank 0 serves /progress but its step never advances
 *   FAKE_DONE_MS           after this long rank 0 reports phase done, with a final
 *                          evaluation echoing its --final-eval* flags when it got them
 */
import { createServer } from 'node:http';
import { DEFAULT_METRICS_PORT, PROGRESS_PATH, WORKER_ENV, type FinalEvaluationReport, type ProgressReport } from '../../../common/contract.js';

const env = process.env;
const rank = Number(env[WORKER_ENV.rank] ?? '0');
const incarnation = Number(env[WORKER_ENV.restartCount] ?? '0');
const runMs = Number(env.FAKE_RUN_MS ?? '3000');
const stall = env.FAKE_STALL === '1';
const exitRank = env.FAKE_EXIT_RANK === undefined ? undefined : Number(env.FAKE_EXIT_RANK);
const exitInc = env.FAKE_EXIT_INCARNATION === undefined ? undefined : Number(env.FAKE_EXIT_INCARNATION);
const scripted = (exitRank === undefined || exitRank === rank) && (exitInc === undefined || exitInc === incarnation);
const exitCode = scripted ? Number(env.FAKE_EXIT_CODE ?? '0') : 0;
const started = Date.now();

const doneMs = env.FAKE_DONE_MS === undefined ? undefined : Number(env.FAKE_DONE_MS);

/** The value after `flag` in this process's arguments (as the operator rendered them). */
function flagValue(flag: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** A final evaluation that echoes the rendered flags, so a test sees they reached the worker. */
function fakeFinalEvaluation(): FinalEvaluationReport | undefined {
  const words = flagValue('--final-eval')?.split(',');
  if (words === undefined || words.includes('none')) return undefined;
  const attacks = words.flatMap((w) => (w === 'autoattack' ? ['apgd-ce', 'apgd-t', 'fab-t', 'square'] : [w]));
  const perAttack = attacks.map((attack, a) => ({ attack, robustAccuracy: (90 - 5 * (a + 1)) / 100, seconds: 1 }));
  return {
    attacks,
    norm: 'linf',
    eps: Number(flagValue('--final-eval-eps') ?? '0.3'),
    examples: Number(flagValue('--final-eval-examples') ?? '1000'),
    cleanAccuracy: 0.95,
    perAttack,
    robustAccuracy: perAttack.at(-1)!.robustAccuracy,
    seconds: attacks.length,
  };
}

let step = 0;
if (!stall) setInterval(() => step++, 200).unref();

if (rank === 0) {
  const server = createServer((req, res) => {
    if (req.url !== PROGRESS_PATH) {
      res.writeHead(404).end();
      return;
    }
    const done = doneMs !== undefined && Date.now() - started >= doneMs;
    const finalEvaluation = done ? fakeFinalEvaluation() : undefined;
    const report: ProgressReport = {
      ...(finalEvaluation !== undefined ? { finalEvaluation } : {}),
      phase: done ? 'done' : 'training',
      epoch: 1,
      totalEpochs: 2,
      step,
      totalSteps: 1000,
      loss: 0.5,
      cleanAccuracy: 0.9,
      robustAccuracy: 0.42,
      imagesPerSecond: 100,
      lastHeartbeat: new Date().toISOString(),
    };
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(report));
  });
  server.listen(Number(env[WORKER_ENV.metricsPort] ?? DEFAULT_METRICS_PORT), env[WORKER_ENV.ringBind] || '127.0.0.1');
  server.unref();
}

process.stderr.write(`fake worker rank=${rank} incarnation=${incarnation} args=${process.argv.slice(2).join(' ')}\n`);
process.on('SIGTERM', () => process.exit(143));
if (runMs > 0) {
  setTimeout(() => process.exit(exitCode), Math.max(0, runMs - (Date.now() - started)));
} else {
  setInterval(() => {}, 60_000);
}
