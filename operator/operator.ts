/**
 * Assembles a running operator: informers (DATJobs, and the Pods and Services
 * it owns, label-selected on list and watch), the work queue and its workers,
 * the progress poller, leader election, and the metrics/health HTTP servers.
 * `main.ts` maps flags onto {@link OperatorOptions}; tests start it in-process.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { DatError, getErrorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import type { DATJob } from './api/types.js';
import { KubeClusterWriter } from './apply.js';
import { makeApiClient } from './kube-client.js';
import { DEFAULT_CONCURRENCY } from './flags.js';
import { GROUP, LABELS, LEADER_ELECTION, OWNED_SELECTOR, PLURAL, VERSION } from './constants.js';
import { makeCachedInformer, type CachedInformer } from './informer.js';
import { LeaderElector } from './leader-election.js';
import { KubeLeaseStore } from './lease-store.js';
import { createMetrics, type OperatorMetrics } from './metrics.js';
import { objectKey, parseKey } from './names.js';
import { ProgressPoller } from './progress-poller.js';
import { Reconciler, type ClusterReader } from './reconciler.js';
import type { OperatorSelector } from './desired/network-policy.js';
import { WorkQueue } from './work-queue.js';

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespace to watch; undefined watches all. */
  readonly namespace?: string;
  /** @default false */
  readonly leaderElect?: boolean;
  /** @default default */
  readonly leaderElectionNamespace?: string;
  /** @default dat-operator-leader */
  readonly leaderElectionId?: string;
  /** Lease holder identity. @default POD_NAME or hostname_pid */
  readonly identity?: string;
  /** Port of /metrics; 0 picks a free port, -1 disables. @default 8080 */
  readonly metricsPort?: number;
  /** Port of /healthz and /readyz; 0 picks a free port, -1 disables. @default 8081 */
  readonly healthPort?: number;
  /** Progress poll period. @default 10000 */
  readonly progressIntervalMs?: number;
  /** Worker image for jobs that do not name one. */
  readonly workerImage?: string;
  /** Concurrent reconciles (different keys). @default {@link DEFAULT_CONCURRENCY} */
  readonly concurrency?: number;
  /** Where the operator's pods run: each job gets a NetworkPolicy admitting them. Unset: no NetworkPolicy. */
  readonly networkPolicy?: OperatorSelector;
  /** Retry delays of a job whose children the API server refused (Blocked). @default CREATE_RETRY_BACKOFF (10 s doubling to 5 min) */
  readonly createBackoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Leader election timings (tests shorten them). */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Called when leadership is lost; the default stops reconciling (main.ts exits instead). */
  readonly onLostLeadership?: () => void;
  readonly log?: Logger;
}

/** A running operator. */
export interface OperatorHandle {
  readonly identity: string;
  /** True while this instance reconciles (leader, or leader election off). */
  isActive(): boolean;
  readonly metricsPort?: number;
  readonly healthPort?: number;
  readonly metrics: OperatorMetrics;
  /** Graceful shutdown: finish in-flight reconciles, release the Lease, stop watches. */
  stop(): Promise<void>;
}

type Listed<T extends KubernetesObject> = Promise<KubernetesListObject<T>>;

/** Starts the operator; resolves once the caches synced and the HTTP servers listen. */
export async function startOperator(opts: OperatorOptions): Promise<OperatorHandle> {
  const log = opts.log ?? silentLogger;
  const kc = opts.kubeConfig;
  const ns = opts.namespace;
  const identity = opts.identity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`;
  const core = makeApiClient(kc, CoreV1Api);
  const custom = makeApiClient(kc, CustomObjectsApi);
  const nsPath = ns === undefined ? '' : `/namespaces/${ns}`;

  const jobs: CachedInformer<DATJob> = makeCachedInformer<DATJob>(
    kc,
    `/apis/${GROUP}/${VERSION}${nsPath}/${PLURAL}`,
    () =>
      (ns === undefined
        ? custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL })) as Listed<DATJob>,
    undefined,
    { name: 'datjobs', log },
  );
  const pods = makeCachedInformer<V1Pod>(
    kc,
    `/api/v1${nsPath}/pods`,
    (labelSelector) => (ns === undefined ? core.listPodForAllNamespaces({ labelSelector }) : core.listNamespacedPod({ namespace: ns, labelSelector })),
    OWNED_SELECTOR,
    { name: 'pods', log },
  );
  const services = makeCachedInformer<V1Service>(
    kc,
    `/api/v1${nsPath}/services`,
    (labelSelector) =>
      ns === undefined ? core.listServiceForAllNamespaces({ labelSelector }) : core.listNamespacedService({ namespace: ns, labelSelector }),
    OWNED_SELECTOR,
    { name: 'services', log },
  );

  // Created before the queue: the queue reports its adds and waits into it, and the depth gauge reads the queue.
  const metrics = createMetrics({ listJobs: () => [...jobs.cache.list()], queueDepth: () => queue.length });
  const newQueue = (): WorkQueue =>
    new WorkQueue({ onAdd: () => metrics.workqueueAdds.inc(), onWait: (ms) => metrics.queueWait.observe(ms / 1000) });
  // Replaced on each activation: a shut-down queue cannot be reopened.
  let queue = newQueue();
  // Handlers only enqueue `namespace/name`: the reconcile is level-based.
  const enqueueJob = (j: DATJob): void => queue.add(objectKey(j.metadata.namespace ?? '', j.metadata.name ?? ''));
  const enqueueOwner = (o: V1Pod | V1Service): void => {
    const owner = o.metadata?.labels?.[LABELS.jobName];
    if (owner !== undefined) queue.add(objectKey(o.metadata?.namespace ?? '', owner));
  };
  for (const verb of ['add', 'update', 'delete'] as const) {
    jobs.on(verb, enqueueJob);
    pods.on(verb, enqueueOwner);
    services.on(verb, enqueueOwner);
  }

  const reader: ClusterReader = {
    getJob: (namespace, name) => jobs.cache.get(name, namespace),
    listPods: (namespace, jobName) => pods.cache.list(namespace).filter((p) => p.metadata?.labels?.[LABELS.jobName] === jobName),
    getService: (namespace, name) => services.cache.get(name, namespace),
  };
  const poller = new ProgressPoller({
    listJobs: () => [...jobs.cache.list()],
    listPods: reader.listPods,
    enqueue: (k) => queue.add(k),
    intervalMs: opts.progressIntervalMs,
    log,
  });
  const reconciler = new Reconciler({
    reader,
    writer: new KubeClusterWriter(kc, identity),
    progress: poller,
    defaultImage: opts.workerImage,
    networkPolicy: opts.networkPolicy,
    createBackoff: opts.createBackoff,
    observer: { onRestart: (j) => metrics.restarts.inc({ namespace: j.metadata.namespace ?? '' }) },
    log,
  });

  await Promise.all([jobs.resilient.start(), pods.resilient.start(), services.resilient.start()]);

  // Reconcile workers: started when leading (or at once without leader election).
  let active = false;
  let workers: Promise<void>[] = [];
  const worker = async (q: WorkQueue): Promise<void> => {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      const { namespace, name } = parseKey(key);
      const end = metrics.reconcileDuration.startTimer();
      try {
        const res = await reconciler.reconcile(namespace, name);
        q.forget(key);
        if (res.requeueAfterMs !== undefined) q.addAfter(key, res.requeueAfterMs);
      } catch (err) {
        metrics.reconcileErrors.inc();
        if (err instanceof DatError && !err.retryable) {
          q.forget(key);
          log.error('Failed to reconcile DATJob, not retrying', { job: key, err: getErrorMessage(err) });
        } else {
          const delay = q.addRateLimited(key);
          log.warn('Failed to reconcile DATJob, retrying', { job: key, err: getErrorMessage(err), retryInMs: delay });
        }
      } finally {
        end();
        q.done(key);
      }
    }
  };
  const activate = (): void => {
    if (active) return;
    active = true;
    queue = newQueue();
    metrics.leader.set(1);
    for (const j of jobs.cache.list()) enqueueJob(j);
    workers = Array.from({ length: opts.concurrency ?? DEFAULT_CONCURRENCY }, () => worker(queue));
    poller.start();
  };
  const deactivate = async (): Promise<void> => {
    if (!active) return;
    active = false;
    metrics.leader.set(0);
    poller.stop();
    queue.shutDown();
    await Promise.all(workers);
  };

  let elector: LeaderElector | undefined;
  if (opts.leaderElect === true) {
    elector = new LeaderElector({
      identity,
      store: new KubeLeaseStore(kc, opts.leaderElectionNamespace ?? 'default', opts.leaderElectionId ?? LEADER_ELECTION.leaseName),
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log,
      onStartedLeading: activate,
      onStoppedLeading: () => {
        void deactivate();
        opts.onLostLeadership?.();
      },
    });
    elector.start();
  } else {
    activate();
  }

  const synced = (): boolean => jobs.resilient.hasSynced && pods.resilient.hasSynced && services.resilient.hasSynced;
  const metricsServer = await listen(opts.metricsPort ?? 8080, async (path) => {
    if (path !== '/metrics') return undefined;
    return { type: metrics.registry.contentType, body: await metrics.registry.metrics() };
  });
  const healthServer = await listen(opts.healthPort ?? 8081, (path) => {
    if (path === '/healthz') return Promise.resolve({ type: 'text/plain', body: 'ok' });
    if (path === '/readyz') return Promise.resolve(synced() ? { type: 'text/plain', body: 'ok' } : { type: 'text/plain', body: 'caches not synced', code: 503 });
    return Promise.resolve(undefined);
  });
  log.info('Started operator', { identity, namespace: ns ?? '(all)', leaderElect: opts.leaderElect === true });

  return {
    identity,
    isActive: () => active,
    metricsPort: portOf(metricsServer),
    healthPort: portOf(healthServer),
    metrics,
    async stop() {
      await deactivate();
      await elector?.stop();
      await Promise.all([jobs.resilient.stop(), pods.resilient.stop(), services.resilient.stop()]);
      await Promise.all([close(metricsServer), close(healthServer)]);
      log.info('Stopped operator', { identity });
    },
  };
}

type Handler = (path: string) => Promise<{ type: string; body: string; code?: number } | undefined>;

async function listen(port: number, handler: Handler): Promise<Server | undefined> {
  if (port < 0) return undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    handler(path).then(
      (r) => {
        if (r === undefined) {
          res.writeHead(404).end('not found');
          return;
        }
        res.writeHead(r.code ?? 200, { 'Content-Type': r.type }).end(r.body);
      },
      (err: unknown) => res.writeHead(500).end(getErrorMessage(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return server;
}

function portOf(server: Server | undefined): number | undefined {
  const addr = server?.address();
  return addr !== null && typeof addr === 'object' ? addr.port : undefined;
}

function close(server: Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
