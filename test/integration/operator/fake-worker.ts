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
 */
import { createServer } from 'node:http';
import { DEFAULT_METRICS_PORT, PROGRESS_PATH, WORKER_ENV, type ProgressReport } from '../../../common/contract.js';

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

let step = 0;
if (!stall) setInterval(() => step++, 200).unref();

if (rank === 0) {
  const server = createServer((req, res) => {
    if (req.url !== PROGRESS_PATH) {
      res.writeHead(404).end();
      return;
    }
    const report: ProgressReport = {
      phase: 'training',
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
