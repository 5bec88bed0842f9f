/**
 * Informers that survive errors. client-node's informer re-lists after 410 Gone
 * but stops for good after any other error; this wrapper restarts it with a
 * capped exponential backoff (1 s to 30 s), and a staleness timer restarts a
 * watch that went quiet without an error (client-node#596, #958).
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { getErrorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { INFORMER_BACKOFF } from './constants.js';

/** The part of client-node's informer the wrapper drives. */
export type RestartableInformer<T extends KubernetesObject> = Pick<Informer<T>, 'on' | 'start' | 'stop'>;

/** Options of {@link ResilientInformer}. */
export interface ResilientInformerOptions {
  readonly name: string;
  /** @default 1000 */
  readonly initialBackoffMs?: number;
  /** @default 30000 */
  readonly maxBackoffMs?: number;
  /** Restart when no event (including a watch reconnect) arrived for this long; 0 disables. @default 600000 */
  readonly staleAfterMs?: number;
  /** Injectable sleep (tests). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: Logger;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Next backoff: doubled, capped. */
export function nextBackoffMs(current: number, max: number): number {
  return Math.min(max, current * 2);
}

/** Keeps one informer running until {@link stop}. */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer: RestartableInformer<T>;
  private readonly opts: ResilientInformerOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: Logger;
  private backoffMs: number;
  private stopped = true;
  private restarting = false;
  private starting = false;
  private lastActivity = Date.now();
  private staleTimer: NodeJS.Timeout | undefined;
  private synced = false;
  /** Errors seen so far: a start() during which one fired did not list successfully. */
  private errors = 0;
  /** Number of restarts after errors or staleness (observability, tests). */
  restarts = 0;

  constructor(informer: RestartableInformer<T>, opts: ResilientInformerOptions) {
    this.informer = informer;
    this.opts = opts;
    this.sleep = opts.sleep ?? defaultSleep;
    this.log = opts.log ?? silentLogger;
    this.backoffMs = opts.initialBackoffMs ?? INFORMER_BACKOFF.initialMs;
    const touch = (): void => {
      this.lastActivity = Date.now();
    };
    informer.on('add', () => {
      touch();
      this.backoffMs = this.opts.initialBackoffMs ?? INFORMER_BACKOFF.initialMs;
    });
    informer.on('update', touch);
    informer.on('delete', touch);
    informer.on('connect', touch);
    informer.on('error', (err: unknown) => {
      this.errors++;
      void this.onError(err);
    });
  }

  /** True once the first list completed. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** Starts the informer (resolves after the first list) and the staleness timer. */
  async start(): Promise<void> {
    this.stopped = false;
    const before = this.errors;
    await this.informer.start();
    // client-node reports a failed initial list through 'error' and still resolves.
    if (this.errors === before) this.synced = true;
    this.lastActivity = Date.now();
    const staleAfter = this.opts.staleAfterMs ?? 600_000;
    if (staleAfter > 0) {
      this.staleTimer = setInterval(() => {
        if (!this.stopped && !this.restarting && Date.now() - this.lastActivity > staleAfter) {
          this.log.warn('Restarted quiet informer', { informer: this.opts.name, quietMs: Date.now() - this.lastActivity });
          this.restartStale();
        }
      }, Math.min(staleAfter, 30_000));
      this.staleTimer.unref();
    }
  }

  /** Stops the informer and any pending restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.staleTimer !== undefined) clearInterval(this.staleTimer);
    await this.informer.stop();
  }

  /**
   * client-node's informer has already dropped its watch when it reports an
   * error, so a restart is a plain `start()`; calling `stop()` first would abort
   * a request and its late AbortError would kill the next watch.
   */
  private async onError(err: unknown): Promise<void> {
    if (this.stopped) return;
    if (isAbortError(err)) {
      // Self-inflicted (a stop, or the informer aborting its own request): no backoff,
      // unless a restart is already pending.
      if (!this.restarting) await this.restartNow();
      return;
    }
    if (this.restarting) return;
    const wait = this.backoffMs;
    this.backoffMs = nextBackoffMs(this.backoffMs, this.opts.maxBackoffMs ?? INFORMER_BACKOFF.maxMs);
    this.log.warn('Informer failed, restarting', { informer: this.opts.name, err: getErrorMessage(err), backoffMs: wait });
    this.restarting = true;
    try {
      await this.sleep(wait);
    } finally {
      this.restarting = false;
    }
    if (!this.stopped) await this.restartNow();
  }

  /** A quiet watch: abort it; its AbortError restarts it, or the fallback does if none comes. */
  private restartStale(): void {
    const errorsBefore = this.errors;
    void this.informer.stop();
    setTimeout(() => {
      if (!this.stopped && this.errors === errorsBefore) void this.restartNow();
    }, 1_000).unref();
  }

  private async restartNow(): Promise<void> {
    if (this.starting) return;
    this.starting = true;
    this.restarts++;
    this.lastActivity = Date.now();
    try {
      // start() reports list failures through 'error', which schedules the next attempt.
      const before = this.errors;
      await this.informer.start();
      if (this.errors === before) this.synced = true;
    } catch (err) {
      void this.onError(err);
    } finally {
      this.starting = false;
    }
  }
}

/** True for the error of an aborted request (node-fetch and DOM AbortError). */
export function isAbortError(err: unknown): boolean {
  return err !== null && typeof err === 'object' && 'name' in err && err.name === 'AbortError';
}

/** An informer with its cache, restarted on errors. */
export interface CachedInformer<T extends KubernetesObject> {
  readonly cache: ObjectCache<T>;
  readonly resilient: ResilientInformer<T>;
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
}

/**
 * Drops `metadata.managedFields` from an object the informer just cached
 * (in place: client-node hands its handlers the cached object itself). The
 * operator never reads them, and they are often larger than the rest of a
 * pod; controller-runtime's caches offer the same transform.
 */
export function dropManagedFields(obj: KubernetesObject): void {
  if (obj.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
}

/**
 * Registers {@link dropManagedFields} on `informer`. Call it before any other
 * handler: every object a list or a watch event stores passes an add or
 * update handler, so the cache holds trimmed objects only.
 */
export function trimCachedObjects<T extends KubernetesObject>(informer: Pick<Informer<T>, 'on'>): void {
  informer.on('add', dropManagedFields);
  informer.on('update', dropManagedFields);
}

/**
 * Makes a label-selected informer. The selector is applied to the list call
 * too: client-node's informer only passes it to the watch. Cached objects
 * carry no managedFields ({@link dropManagedFields}).
 */
export function makeCachedInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: (labelSelector: string | undefined) => Promise<KubernetesListObject<T>>,
  labelSelector: string | undefined,
  opts: ResilientInformerOptions,
): CachedInformer<T> {
  const informer = makeInformer<T>(kc, path, () => list(labelSelector), labelSelector);
  trimCachedObjects(informer);
  const resilient = new ResilientInformer<T>(informer, opts);
  return { cache: informer, resilient, on: (verb, cb) => informer.on(verb, cb) };
}
