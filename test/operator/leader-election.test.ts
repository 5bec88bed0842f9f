import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector, type ElectionClock, type LeaseRecord, type LeaseStore } from '../../operator/leader-election.js';

/** An in-memory Lease with resourceVersion conflicts, like the API server's. */
class MemoryLeaseStore implements LeaseStore {
  record: LeaseRecord | undefined;
  private rv = 0;
  failing = false;
  get(): Promise<LeaseRecord | undefined> {
    if (this.failing) return Promise.reject(new Error('apiserver down'));
    return Promise.resolve(this.record === undefined ? undefined : { ...this.record });
  }
  create(r: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) return Promise.reject(new Error('apiserver down'));
    if (this.record !== undefined) return Promise.reject(new Error('409 already exists'));
    this.record = { ...r, resourceVersion: String(++this.rv) };
    return Promise.resolve({ ...this.record });
  }
  update(r: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) return Promise.reject(new Error('apiserver down'));
    if (r.resourceVersion !== this.record?.resourceVersion) return Promise.reject(new Error('409 conflict'));
    this.record = { ...r, resourceVersion: String(++this.rv) };
    return Promise.resolve({ ...this.record });
  }
}

const fakeClock = (): ElectionClock & { t: number } => {
  const c = { t: 1_000_000, now: () => c.t, sleep: () => Promise.resolve() };
  return c;
};

function elector(id: string, store: LeaseStore, clock: ElectionClock, events: string[]): LeaderElector {
  return new LeaderElector({
    identity: id,
    store,
    clock,
    onStartedLeading: () => events.push(`${id}:start`),
    onStoppedLeading: () => events.push(`${id}:stop`),
  });
}

test('only one of two candidates holds the lease; the other takes over after expiry', async () => {
  const store = new MemoryLeaseStore();
  const clock = fakeClock();
  const events: string[] = [];
  const a = elector('a', store, clock, events);
  const b = elector('b', store, clock, events);
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.equal(await b.tryAcquireOrRenew(), false, 'b cannot take a held lease');
  clock.t += 10_000;
  assert.equal(await a.tryAcquireOrRenew(), true, 'a renews');
  assert.equal(await b.tryAcquireOrRenew(), false, 'b saw the renewal: its expiry clock restarts');
  clock.t += 14_000;
  assert.equal(await b.tryAcquireOrRenew(), false, 'not yet expired by b\'s own clock');
  clock.t += 1_001;
  assert.equal(await b.tryAcquireOrRenew(), true, 'a stopped renewing for a lease duration');
  assert.equal(store.record?.holderIdentity, 'b');
  assert.equal(store.record?.leaseTransitions, 1);
  assert.equal(await a.tryAcquireOrRenew(), false, 'a lost it');
});

test('a conflicting concurrent write loses', async () => {
  const store = new MemoryLeaseStore();
  const clock = fakeClock();
  const a = elector('a', store, clock, []);
  await a.tryAcquireOrRenew();
  // Somebody else updated the lease after our read: the stale resourceVersion conflicts.
  const stale = { ...store.record! };
  await store.update({ ...stale, renewTime: 'x' });
  await assert.rejects(store.update(stale));
});

test('the loop starts leading, loses after renewDeadline of failures, and release frees the lease', async () => {
  const store = new MemoryLeaseStore();
  const events: string[] = [];
  let t = 0;
  let ticks = 0;
  let stop: (() => void) | undefined;
  const clock: ElectionClock = {
    now: () => t,
    sleep: async () => {
      t += 2_000;
      ticks++;
      if (ticks === 3) store.failing = true;
      if (ticks === 12) stop?.();
      await Promise.resolve();
    },
  };
  const a = new LeaderElector({ identity: 'a', store, clock, onStartedLeading: () => events.push('start'), onStoppedLeading: () => events.push('stop') });
  const done = new Promise<void>((resolve) => (stop = resolve));
  a.start();
  await done;
  assert.deepEqual(events, ['start', 'stop']);
  assert.equal(a.isLeader, false);
  store.failing = false;
  await a.stop();

  // A leader that stops cleanly hands the lease over at once.
  const fresh = new MemoryLeaseStore();
  const b = elector('b', fresh, fakeClock(), []);
  const c = elector('c', fresh, fakeClock(), []);
  assert.equal(await b.tryAcquireOrRenew(), true);
  (b as unknown as { leading: boolean }).leading = true;
  await b.stop();
  assert.equal(fresh.record?.holderIdentity, '');
  assert.equal(await c.tryAcquireOrRenew(), true, 'released lease is free');
});
