/** The operator's command line, parsed into {@link OperatorFlags} (pure: unit-tested). */
import { ConfigError } from '../common/errors.js';

/**
 * Default number of concurrent reconciles. A job needs about 3 reconciles to
 * converge (create its children, then a status write for each change its pods
 * report), and a reconcile mostly waits on the API server, so one Node
 * process overlaps many; the work queue never runs one job twice at once, so
 * more workers only add parallelism across jobs. bench:operator, 200 jobs
 * created at once on a 2-core machine shared with the API server: with 2,
 * all children existed after 18.7 s and the queue-wait p99 was 14.7 s; with
 * 10, 8.9 s and 4.9 s (same day; both vary by about 2x between runs there).
 */
export const DEFAULT_CONCURRENCY = 10;

/** Parsed flags of `dat-operator`. */
export interface OperatorFlags {
  /** Path of a kubeconfig; else $KUBECONFIG, else in-cluster, else ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Watch one namespace; unset watches all. */
  readonly namespace?: string;
  /** @default false */
  readonly leaderElect: boolean;
  /** @default $POD_NAMESPACE or default */
  readonly leaderElectionNamespace: string;
  /** @default dat-operator-leader */
  readonly leaderElectionId: string;
  /** @default 8080 */
  readonly metricsPort: number;
  /** @default 8081 */
  readonly healthPort: number;
  /** Seconds between progress polls. @default 10 */
  readonly progressIntervalSeconds: number;
  /** @default ghcr.io/dat-operator/worker:0.1.0 */
  readonly workerImage: string;
  /** @default info */
  readonly logLevel: 'info' | 'debug';
  /** Concurrent reconciles (different jobs). @default {@link DEFAULT_CONCURRENCY} */
  readonly concurrency: number;
  /** Create a NetworkPolicy per job (ring from the job's pods, metrics from the operator). @default true */
  readonly networkPolicy: boolean;
  /** Namespace of the operator's pods, admitted to the workers' metrics port. @default $POD_NAMESPACE or default */
  readonly operatorNamespace: string;
  /** Labels of the operator's pods, admitted to the workers' metrics port. @default app.kubernetes.io/name=dat-operator */
  readonly operatorPodLabels: Readonly<Record<string, string>>;
  /**
   * Pods also admitted to the workers' metrics port, e.g. a Prometheus: those
   * with `podLabels` (all when empty) in `namespace`. Unset: the operator only.
   */
  readonly metricsScraper?: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
}

const BOOLEAN_FLAGS = ['leader-elect', 'network-policy'] as const;
const VALUE_FLAGS = [
  'kubeconfig',
  'namespace',
  'leader-election-namespace',
  'leader-election-id',
  'metrics-port',
  'health-port',
  'progress-interval',
  'worker-image',
  'log-level',
  'concurrency',
  'operator-namespace',
  'operator-pod-labels',
  'metrics-scraper-namespace',
  'metrics-scraper-pod-labels',
] as const;

/** Usage text for `--help`. */
export const USAGE = `Usage: dat-operator [flags]
  --kubeconfig PATH                 kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS                    watch only NS (default: all namespaces)
  --leader-elect[=true|false]       elect a leader on a coordination.k8s.io Lease (default false)
  --leader-election-namespace NS    namespace of the Lease (default $POD_NAMESPACE or default)
  --leader-election-id NAME         name of the Lease (default dat-operator-leader)
  --metrics-port N                  Prometheus /metrics port, -1 disables (default 8080)
  --health-port N                   /healthz and /readyz port, -1 disables (default 8081)
  --progress-interval SECONDS       how often rank 0's /progress is read (default 10)
  --worker-image IMAGE              image for DATJobs without spec.workers.image
  --log-level info|debug            (default info)
  --concurrency N                   concurrent reconciles of different jobs (default ${DEFAULT_CONCURRENCY})
  --network-policy[=true|false]     create a NetworkPolicy per job (default true)
  --operator-namespace NS           namespace of the operator pods (default $POD_NAMESPACE or default)
  --operator-pod-labels K=V,...     labels of the operator pods (default app.kubernetes.io/name=dat-operator)
  --metrics-scraper-namespace NS    also admit pods of NS (a Prometheus) to the workers' metrics port (default: none)
  --metrics-scraper-pod-labels K=V,...  only those pods of --metrics-scraper-namespace (default: all its pods)`;

/** Parses argv (without node and script); accepts `--flag value` and `--flag=value`. */
export function parseOperatorFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): OperatorFlags {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${arg}\n${USAGE}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if ((BOOLEAN_FLAGS as readonly string[]).includes(name)) {
      values.set(name, eq < 0 ? 'true' : arg.slice(eq + 1));
    } else if ((VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
      values.set(name, value);
    } else {
      throw new ConfigError(`unknown flag --${name}\n${USAGE}`);
    }
  }
  const bool = (name: string, dflt = false): boolean => {
    const v = values.get(name) ?? String(dflt);
    if (v !== 'true' && v !== 'false') throw new ConfigError(`flag --${name} must be true or false, got ${v}`);
    return v === 'true';
  };
  const int = (name: string, dflt: number, min: number): number => {
    const v = values.get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`flag --${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  const logLevel = values.get('log-level') ?? 'info';
  if (logLevel !== 'info' && logLevel !== 'debug') throw new ConfigError(`flag --log-level must be info or debug, got ${logLevel}`);
  const namespace = values.get('namespace');
  const scraperNamespace = values.get('metrics-scraper-namespace');
  const scraperLabels = values.get('metrics-scraper-pod-labels');
  if (scraperLabels !== undefined && (scraperNamespace === undefined || scraperNamespace === '')) {
    throw new ConfigError('flag --metrics-scraper-pod-labels needs --metrics-scraper-namespace (a NetworkPolicy peer names its namespace)');
  }
  return {
    kubeconfig: values.get('kubeconfig'),
    namespace: namespace === '' ? undefined : namespace,
    leaderElect: bool('leader-elect'),
    leaderElectionNamespace: values.get('leader-election-namespace') ?? env.POD_NAMESPACE ?? 'default',
    leaderElectionId: values.get('leader-election-id') ?? 'dat-operator-leader',
    metricsPort: int('metrics-port', 8080, -1),
    healthPort: int('health-port', 8081, -1),
    progressIntervalSeconds: int('progress-interval', 10, 1),
    workerImage: values.get('worker-image') ?? 'ghcr.io/dat-operator/worker:0.1.0',
    logLevel,
    concurrency: int('concurrency', DEFAULT_CONCURRENCY, 1),
    networkPolicy: bool('network-policy', true),
    operatorNamespace: values.get('operator-namespace') ?? env.POD_NAMESPACE ?? 'default',
    operatorPodLabels: parseLabels('operator-pod-labels', values.get('operator-pod-labels') ?? 'app.kubernetes.io/name=dat-operator'),
    metricsScraper:
      scraperNamespace === undefined || scraperNamespace === ''
        ? undefined
        : { namespace: scraperNamespace, podLabels: scraperLabels === undefined || scraperLabels === '' ? {} : parseLabels('metrics-scraper-pod-labels', scraperLabels) },
  };
}

/** Parses `k=v,k2=v2` (pod labels), naming `flag` in errors. */
function parseLabels(flag: string, raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`flag --${flag}: "${part}" is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`flag --${flag} needs at least one key=value`);
  return out;
}
