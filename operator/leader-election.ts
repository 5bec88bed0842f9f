/**
 * Lease-based leader election on coordination.k8s.io/v1, after client-go's
 * leaderelection: acquire when the Lease is free or its holder stopped renewing
 * for a lease duration (judged by our own clock, from when we last saw the
 * record change, so clock skew between replicas does not matter), renew every
 * retry period, give up leadership if renewals fail for the renew deadline, and
 * release the Lease on shutdown so a successor does not wait.
 */
import { getErrorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { LEADER_ELECTION } from './constants.js';

/** The fields of a Lease the elector uses. */
export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
  /** Optimistic-concurrency token of the stored object. */
  readonly resourceVersion?: string;
}

/** Storage of one Lease; `update` fails (rejects) when `resourceVersion` is stale. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; rejects when it already exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

/** Clock and sleep, injectable for tests. */
export interface ElectionClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  readonly identity: string;
  readonly store: LeaseStore;
  /** @default 15000 */
  readonly leaseDurationMs?: number;
  /** @default 10000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  readonly clock?: ElectionClock;
  readonly log?: Logger;
  onStartedLeading(): void;
  /** Called once when leadership is lost (not on a voluntary release). */
  onStoppedLeading(): void;
}

const realClock: ElectionClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      // The listener is removed after each sleep: the loop sleeps forever on one signal.
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

/** Runs the election loop until stopped. */
export class LeaderElector {
  private readonly opts: LeaderElectorOptions;
  private readonly clock: ElectionClock;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private observed: LeaseRecord | undefined;
  private observedAt = 0;
  private leading = false;
  private loop: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
  }

  private get leaseDurationMs(): number {
    return this.opts.leaseDurationMs ?? LEADER_ELECTION.leaseDurationMs;
  }

  /** True while this replica holds the Lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts the loop in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop and releases the Lease if held. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.release();
    }
  }

  private async run(): Promise<void> {
    const retry = this.opts.retryPeriodMs ?? LEADER_ELECTION.retryPeriodMs;
    const renewDeadline = this.opts.renewDeadlineMs ?? LEADER_ELECTION.renewDeadlineMs;
    let lastRenew = 0;
    while (!this.abort.signal.aborted) {
      const ok = await this.tryAcquireOrRenew();
      if (this.abort.signal.aborted) break;
      if (ok) {
        lastRenew = this.clock.now();
        if (!this.leading) {
          this.leading = true;
          this.log.info('Acquired leader lease', { identity: this.opts.identity });
          this.opts.onStartedLeading();
        }
      } else if (this.leading && this.clock.now() - lastRenew >= renewDeadline) {
        this.leading = false;
        this.log.warn('Lost leader lease', { identity: this.opts.identity });
        this.opts.onStoppedLeading();
      }
      await this.clock.sleep(retry, this.abort.signal);
    }
  }

  /** One attempt; true when we hold the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const me = this.opts.identity;
    const durationS = Math.ceil(this.leaseDurationMs / 1000);
    try {
      const current = await this.opts.store.get();
      if (current === undefined) {
        this.record(await this.opts.store.create({ holderIdentity: me, leaseDurationSeconds: durationS, acquireTime: nowIso, renewTime: nowIso, leaseTransitions: 0 }), now);
        return true;
      }
      if (this.observed === undefined || !sameRecord(this.observed, current)) this.record(current, now);
      const held = current.holderIdentity !== undefined && current.holderIdentity !== '';
      const expired = this.observedAt + (current.leaseDurationSeconds ?? durationS) * 1000 <= now;
      if (held && current.holderIdentity !== me && !expired) return false;
      const takeover = current.holderIdentity !== me;
      const next: LeaseRecord = {
        holderIdentity: me,
        leaseDurationSeconds: durationS,
        acquireTime: takeover ? nowIso : current.acquireTime,
        renewTime: nowIso,
        leaseTransitions: (current.leaseTransitions ?? 0) + (takeover ? 1 : 0),
        resourceVersion: current.resourceVersion,
      };
      this.record(await this.opts.store.update(next), now);
      return true;
    } catch (err) {
      this.log.warn('Failed to acquire or renew leader lease', { identity: me, err: getErrorMessage(err) });
      return false;
    }
  }

  private record(r: LeaseRecord, now: number): void {
    this.observed = r;
    this.observedAt = now;
  }

  private async release(): Promise<void> {
    try {
      const current = await this.opts.store.get();
      if (current?.holderIdentity !== this.opts.identity) return;
      // As client-go: empty holder and a 1 s duration let a standby take over at once.
      await this.opts.store.update({ ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new Date(this.clock.now()).toISOString() });
      this.log.info('Released leader lease', { identity: this.opts.identity });
    } catch (err) {
      this.log.warn('Failed to release leader lease', { identity: this.opts.identity, err: getErrorMessage(err) });
    }
  }
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime && a.resourceVersion === b.resourceVersion;
}
