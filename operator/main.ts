/**
 * `dat-operator`: wires flags, the kubeconfig and signals onto
 * {@link startOperator}. Exits 1 if leadership is lost (the Deployment restarts
 * it as a standby, as client-go operators do) and 0 after a clean SIGTERM.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { DatError, getErrorMessage } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { buildMetricsScraperPeer } from './desired/network-policy.js';
import { parseOperatorFlags, USAGE } from './flags.js';
import { startOperator } from './operator.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const flags = parseOperatorFlags(argv, process.env);
  const log = createLogger({ component: 'dat-operator' });
  const kc = new KubeConfig();
  if (flags.kubeconfig !== undefined) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();

  const op = await startOperator({
    kubeConfig: kc,
    namespace: flags.namespace,
    leaderElect: flags.leaderElect,
    leaderElectionNamespace: flags.leaderElectionNamespace,
    leaderElectionId: flags.leaderElectionId,
    metricsPort: flags.metricsPort,
    healthPort: flags.healthPort,
    progressIntervalMs: flags.progressIntervalSeconds * 1000,
    workerImage: flags.workerImage,
    concurrency: flags.concurrency,
    networkPolicy: flags.networkPolicy
      ? {
          namespace: flags.operatorNamespace,
          podLabels: flags.operatorPodLabels,
          ...(flags.metricsScraper === undefined ? {} : { extraMetricsPeers: [buildMetricsScraperPeer(flags.metricsScraper.namespace, flags.metricsScraper.podLabels)] }),
        }
      : undefined,
    onLostLeadership: () => {
      log.error('Lost leadership, exiting');
      process.exit(1);
    },
    log,
  });
  log.info('Listening', { metricsPort: op.metricsPort, healthPort: op.healthPort });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('Received signal, shutting down', { signal });
    op.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('Failed to shut down cleanly', { err: getErrorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`dat-operator: ${getErrorMessage(err)}\n`);
  process.exit(err instanceof DatError && !err.retryable ? 2 : 1);
});
