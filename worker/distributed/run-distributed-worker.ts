/**
 * One rank of a DAT ring (a pod, or a child of the local launcher):
 *
 * 1. Read WORKER_ENV (rank, world size, peers, bind address, ports).
 * 2. Bind the gRPC ring server on DAT_RING_BIND:DAT_RING_PORT (a failure is
 *    fatal at once, naming the port) and, when DAT_METRICS_PORT is set, the
 *    telemetry server (/progress, /metrics).
 * 3. Join the ring (waits for peers that are still starting).
 * 4. Build the gradient reducer for `--compression` and run the training
 *    loop with it; rank 0's initial weights are broadcast by runTraining, and
 *    every rank applies the same mean gradient bits, so parameters stay
 *    bit-identical. BatchNorm moving statistics are not gradients: runTraining
 *    re-broadcasts rank 0's (trainable and non-trainable) weights at each epoch
 *    start when the model has any.
 * 5. Map a broken ring to EXIT_CODES.peerFailure (retryable gang restart).
 */
import { Registry } from 'prom-client';
import { EXIT_CODES, type ProgressReport, type TrainOptions } from '../../common/contract.js';
import { selectBackend } from '../backend/select-backend.js';
import { stepEngineChooser } from '../backend/compile-step.js';
import { createProgressDisplay } from '../cli/progress-display.js';
import { writeTerminationMessage } from '../cli/termination-message.js';
import { createGradientReducer, meanBytesPerStep } from '../comm/compression/create-reducer.js';
import { localMomentumBeta } from '../comm/compression/local-momentum.js';
import { RingError } from '../comm/ring-errors.js';
import { listenGrpcRing } from '../comm/start-grpc-ring.js';
import { missingWorkerNodeFlags } from '../util/node-flags.js';
import { ObservedCollective } from '../comm/observed-collective.js';
import { createTelemetryServer, createTrainingMetrics, type TelemetryServer } from '../telemetry/index.js';
import { createRingSecurity, isInsecureRingRequested } from '../security/ring-security.js';
import { TLS_STDIN_ENV, readCredentialsLine } from '../security/local-ring-tls.js';
import { runTraining } from '../train/run-training.js';
import { getErrorMessage } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { stopControl, type StopSignals } from '../train/graceful-stop.js';
import { digestTrainableVariables } from './weights-digest.js';
import { PARENT_WATCH_ENV, WEIGHT_DIGEST_ENV, parseWorkerEnv, type WorkerEnv } from './worker-env.js';
import { formatLauncherEvent, type LauncherEvent } from './launcher-events.js';

/** The RingError behind `err` (possibly wrapped as a cause), if any. */
export function findRingError(err: unknown): RingError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof RingError) return e;
  }
  return undefined;
}

/** Env var bounding rank 0's wait for the operator's last progress read. */
export const PROGRESS_LINGER_ENV = 'DAT_PROGRESS_LINGER_SECONDS';
const DEFAULT_PROGRESS_LINGER_SECONDS = 30;

/** How long rank 0 waits for its final report to be read (`DAT_PROGRESS_LINGER_SECONDS`, default 30). */
function progressLingerMs(env: NodeJS.ProcessEnv): number {
  const raw = env[PROGRESS_LINGER_ENV];
  const seconds = raw === undefined || raw === '' ? DEFAULT_PROGRESS_LINGER_SECONDS : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/**
 * Exits when stdin closes: the local launcher holds the other end, so its
 * death ends this worker. Returns the function that stops watching (an open
 * stdin would otherwise keep the process alive after training).
 */
function watchParent(log: Logger): () => void {
  const onEnd = (): void => {
    log.error('Lost the launcher (stdin closed): exiting');
    process.exit(EXIT_CODES.peerFailure);
  };
  process.stdin.on('end', onEnd);
  process.stdin.resume();
  return () => {
    process.stdin.off('end', onEnd);
    process.stdin.pause();
    process.stdin.destroy();
  };
}

/** Tells the local launcher (when there is one: it watches our stdin) about the ring. */
function notifyLauncher(e: LauncherEvent): void {
  if (process.env[PARENT_WATCH_ENV] === 'stdin') process.stdout.write(formatLauncherEvent(e) + '\n');
}

/** Runs one rank of a ring (rank/world/peers from WORKER_ENV); resolves to the exit code. */
export async function runDistributedWorker(opts: TrainOptions, signals?: StopSignals): Promise<number> {
  // Step 1
  const env = parseWorkerEnv(process.env);
  const log = createLogger({ rank: env.rank });
  let unwatch: (() => void) | undefined;
  try {
    const launched = process.env[PARENT_WATCH_ENV] === 'stdin';
    return await runRank(opts, env, log, signals, () => {
      if (launched) unwatch = watchParent(log);
    });
  } finally {
    // Also on a failed start (bind, TLS files): a watched stdin would keep the process alive.
    unwatch?.();
  }
}

/** Steps 2-5; `watch` starts the launcher watch once stdin carries nothing else for us. */
async function runRank(opts: TrainOptions, env: WorkerEnv, log: Logger, signals: StopSignals | undefined, watch: () => void): Promise<number> {
  const display = createProgressDisplay(opts.progress, process.stdout);
  let latest: ProgressReport = { phase: 'starting', epoch: 0, totalEpochs: opts.epochs, step: 0, totalSteps: 0, lastHeartbeat: new Date().toISOString() };
  let telemetry: TelemetryServer | undefined;
  const registry = new Registry();
  const metrics = createTrainingMetrics(registry);

  // Step 2: mutual TLS from DAT_TLS_DIR unless a plain-text ring is asked for explicitly.
  // Local mode: the launcher hands this rank its keys over stdin, so none are written to disk.
  const credentials = process.env[TLS_STDIN_ENV] === '1' ? await readCredentialsLine(process.stdin) : undefined;
  watch();
  const security = await createRingSecurity({
    rank: env.rank, worldSize: env.worldSize, jobName: env.jobName, namespace: env.namespace, tlsDir: env.tlsDir, credentials, insecure: isInsecureRingRequested(process.env), log, registry,
  });
  const ring = await listenGrpcRing(
    { rank: env.rank, worldSize: env.worldSize, session: `${env.jobName}/${env.restartCount}`, timeoutMs: opts.collectiveTimeoutMs, log, channelCredentials: security.channelCredentials },
    env.ringBind,
    env.ringPort,
    security.server,
  );
  notifyLauncher({ ringListening: { port: ring.port } });
  // Every collective call of training goes through the observer: latency, wire bytes and codec time in /metrics and metrics.json.
  const collective = new ObservedCollective(ring.collective, metrics.collective);
  try {
    if (env.metricsPort !== undefined) {
      // Bind the pod IP like the ring server: pods may share a network stack (and the port) with others.
      telemetry = createTelemetryServer({ port: env.metricsPort, host: env.ringBind, getProgress: () => latest, registry });
      const port = await telemetry.start();
      log.info('Started telemetry server', { port });
    }
    const missingFlags = missingWorkerNodeFlags();
    log.info('Started ring server', { bind: env.ringBind, port: ring.port, worldSize: env.worldSize, incrementalMarking: missingFlags.length > 0 });
    if (missingFlags.length > 0) {
      log.warn('node was started without the workers\' flags: the ring spends up to twice the CPU per all-reduce; start workers with the `dat` command (or node with these flags)', { missing: missingFlags.join(' ') });
    }
    // Step 3
    await ring.collective.connect(env.peers);
    const backend = await selectBackend(opts.backend, log);

    // Step 4
    const { reducer: plainReducer, stats, parts: reducerParts } = createGradientReducer({
      collective,
      compression: opts.compression,
      warmupSteps: opts.compressionWarmupSteps,
      seed: opts.seed,
      timeoutMs: opts.collectiveTimeoutMs,
      localMomentum: localMomentumBeta(opts, env.worldSize),
    });
    const reducer = collective.timeCodec(plainReducer);
    const digest = process.env[WEIGHT_DIGEST_ENV] === '1';
    const result = await runTraining(opts, {
      rank: env.rank,
      worldSize: env.worldSize,
      reducer: async (flat, step, segments) => {
        if (digest) log.info('Digested weights', { step, digest: digestTrainableVariables() });
        const mean = await reducer(flat, step, segments);
        metrics.addAllreduceBytes(stats.lastStepBytes);
        return mean;
      },
      broadcastWeights: async (flat) => {
        const bytes = new Uint8Array(flat.buffer, flat.byteOffset, flat.byteLength);
        const got = await collective.broadcast(bytes, 0, { timeoutMs: opts.collectiveTimeoutMs });
        return new Float32Array(got.buffer, got.byteOffset, got.byteLength / 4);
      },
      sumAcrossRanks: async (buf) => {
        if (digest) log.info('Digested weights', { step: 'final', digest: digestTrainableVariables() });
        return collective.allreduce(buf, { timeoutMs: opts.collectiveTimeoutMs });
      },
      onProgress: (p) => {
        latest = p;
        metrics.observeProgress(p);
        // The one place step durations are observed: observeProgress only sets gauges and counts steps.
        if (p.stepSeconds !== undefined) metrics.observeStep(p.stepSeconds, p.stepTiming);
        display.update(p);
      },
      bytesSentLastStep: () => stats.lastStepBytes,
      log,
      // Checkpoints carry each rank's compression memories (sign-ef, local moments) so a resume continues the error feedback.
      parts: reducerParts,
      isChief: env.rank === 0,
      backend: backend.name,
      chooseStepEngine: stepEngineChooser(log),
      // The per-step stop agreement bypasses the observer: a few bytes a step would skew the all-reduce metrics.
      ...(signals !== undefined ? { stop: stopControl(signals, env.rank, env.worldSize, (buf) => ring.collective.allreduce(buf, { timeoutMs: opts.collectiveTimeoutMs })) } : {}),
      extraMetrics: () => ({ workers: env.worldSize, compression: opts.compression, bytesSentPerStepPerRank: Math.round(meanBytesPerStep(stats)), collective: collective.summary() }),
    });
    display.finish();
    log.info('Finished training', {
      steps: stats.steps,
      bytesPerStep: Math.round(meanBytesPerStep(stats)),
      clean: Number(result.metrics.cleanAccuracy.toFixed(4)),
      robust: Number(result.metrics.robustAccuracy.toFixed(4)),
    });
    // Step 5: leave together, so no rank tears its server down while a peer still pulls from it.
    await collective.barrier({ timeoutMs: opts.collectiveTimeoutMs });
    // The kubelet keeps the termination message after the process and its /progress endpoint
    // are gone: rank 0 leaves its final report there, and the operator reads it from the pod.
    if (env.rank === 0) writeTerminationMessage(JSON.stringify(latest));
    // Step 6: rank 0 lingers (bounded) until its final report has been read once, so the final
    // accuracy reaches the DATJob status instead of being lost between two operator polls.
    if (telemetry !== undefined && env.rank === 0) {
      const lingerMs = progressLingerMs(process.env);
      if (lingerMs > 0) {
        const read = await telemetry.waitForServed((p) => p.phase === 'done', lingerMs);
        log.info(read ? 'Served final progress report' : 'Exited without the final progress report being read', { lingerMs });
      }
    }
    return EXIT_CODES.success;
  } catch (err) {
    const ringErr = findRingError(err);
    latest = { ...latest, phase: 'failed' };
    if (ringErr === undefined) throw err;
    log.error('Failed: the ring broke', { reason: getErrorMessage(ringErr), peer: ringErr.peerRank, failure: ringErr.failure });
    notifyLauncher({ ringFailure: { failure: ringErr.failure, reason: getErrorMessage(ringErr), ...(ringErr.peerRank !== undefined ? { peerRank: ringErr.peerRank } : {}) } });
    return EXIT_CODES.peerFailure;
  } finally {
    display.finish();
    await collective.close();
    await telemetry?.close();
  }
}
