import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Timers } from '../../operator/work-queue.js';

/** Manual timers: `fire()` runs everything scheduled, recording the delays. */
function fakeTimers(): Timers & { delays: number[]; fire(): void } {
  let pending: { fn: () => void; ms: number; id: number }[] = [];
  let next = 0;
  const delays: number[] = [];
  return {
    delays,
    setTimeout(fn, ms) {
      delays.push(ms);
      pending.push({ fn, ms, id: ++next });
      return next;
    },
    clearTimeout(h) {
      pending = pending.filter((p) => p.id !== h);
    },
    fire() {
      const run = pending;
      pending = [];
      for (const p of run) p.fn();
    },
  };
}

test('WorkQueue de-duplicates queued keys', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('WorkQueue never hands out a key twice at once; a re-add while processing comes back after done', async () => {
  const q = new WorkQueue();
  q.add('a');
  const k = await q.get();
  q.add('a');
  assert.equal(q.length, 0, 'in-flight key is held back');
  q.done(k!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
});

test('WorkQueue wakes a waiting get', async () => {
  const q = new WorkQueue();
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
});

test('WorkQueue rate-limits failures exponentially with a cap and forgets on success', () => {
  const timers = fakeTimers();
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50, timers });
  const got: number[] = [];
  for (let i = 0; i < 5; i++) {
    got.push(q.addRateLimited('k'));
    timers.fire();
  }
  assert.deepEqual(got, [10, 20, 40, 50, 50]);
  assert.equal(q.numRequeues('k'), 5);
  q.forget('k');
  assert.equal(q.addRateLimited('k'), 10);
});

test('WorkQueue addAfter keeps the earliest pending delay', () => {
  const timers = fakeTimers();
  const q = new WorkQueue({ timers });
  q.addAfter('k', 1000, 0);
  q.addAfter('k', 5000, 0);
  q.addAfter('k', 100, 0);
  assert.deepEqual(timers.delays, [1000, 100]);
  timers.fire();
  assert.equal(q.length, 1);
});

test('WorkQueue shutDown releases waiters', async () => {
  const q = new WorkQueue();
  const p = q.get();
  q.shutDown();
  assert.equal(await p, undefined);
  q.add('late');
  assert.equal(await q.get(), undefined);
});

test('WorkQueue reports every add to onAdd, duplicates and delayed adds included, none after shutdown', () => {
  const timers = fakeTimers();
  const added: string[] = [];
  const q = new WorkQueue({ timers, onAdd: (k) => added.push(k) });
  q.add('a');
  q.add('a');
  q.addAfter('b', 10);
  assert.deepEqual(added, ['a', 'a'], 'a delayed key is added when its timer fires');
  timers.fire();
  assert.deepEqual(added, ['a', 'a', 'b']);
  q.shutDown();
  q.add('c');
  assert.deepEqual(added, ['a', 'a', 'b']);
});

test('WorkQueue reports how long each key waited until a worker took it', async () => {
  let clock = 1000;
  const waits: number[] = [];
  const q = new WorkQueue({ now: () => clock, onWait: (ms) => waits.push(ms) });
  const cases: Array<{ name: string; run: () => Promise<void>; want: number[] }> = [
    {
      name: 'queued keys wait until taken; a re-add of a queued key keeps its first time',
      run: async () => {
        q.add('a');
        clock += 5;
        q.add('b');
        q.add('a');
        clock += 10;
        q.done((await q.get())!);
        clock += 1;
        q.done((await q.get())!);
      },
      want: [15, 11],
    },
    {
      name: 'a key handed to a waiting worker waited 0',
      run: async () => {
        const p = q.get();
        clock += 50;
        q.add('c');
        q.done((await p)!);
      },
      want: [0],
    },
  ];
  for (const c of cases) {
    waits.length = 0;
    await c.run();
    assert.deepEqual(waits, c.want, c.name);
  }
});
