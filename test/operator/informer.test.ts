import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListWatch, type KubernetesListObject, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import { nextBackoffMs, ResilientInformer, trimCachedObjects, type RestartableInformer } from '../../operator/informer.js';

/** A fake informer: records starts/stops and lets the test fire callbacks. */
class FakeInformer {
  starts = 0;
  stops = 0;
  private readonly cbs = new Map<string, ((arg?: unknown) => void)[]>();
  on(verb: string, cb: (arg?: unknown) => void): void {
    this.cbs.set(verb, [...(this.cbs.get(verb) ?? []), cb]);
  }
  off(): void {}
  start(): Promise<void> {
    this.starts++;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stops++;
    return Promise.resolve();
  }
  fire(verb: string, arg?: unknown): void {
    for (const cb of this.cbs.get(verb) ?? []) cb(arg);
  }
  /** The fake typed as the informer interface (its overloaded `on` is not worth re-declaring). */
  get asInformer(): RestartableInformer<KubernetesObject> {
    return this as unknown as RestartableInformer<KubernetesObject>;
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('nextBackoffMs doubles up to the cap', () => {
  const got: number[] = [];
  let b = 1000;
  for (let i = 0; i < 7; i++) {
    got.push(b);
    b = nextBackoffMs(b, 30_000);
  }
  assert.deepEqual(got, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('ResilientInformer restarts after every error with capped backoff, resets after events', async () => {
  const fake = new FakeInformer();
  const sleeps: number[] = [];
  const inf = new ResilientInformer(fake.asInformer, { name: 't', staleAfterMs: 0, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });
  await inf.start();
  assert.equal(inf.hasSynced, true);
  for (let i = 0; i < 7; i++) {
    fake.fire('error', new Error('watch failed'));
    await flush();
  }
  assert.deepEqual(sleeps, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(fake.starts, 8, 'one initial start plus one per error');
  assert.equal(inf.restarts, 7);
  fake.fire('add', { metadata: { name: 'x' } });
  fake.fire('error', new Error('again'));
  await flush();
  assert.equal(sleeps.at(-1), 1000, 'a delivered event resets the backoff');
  await inf.stop();
  fake.fire('error', new Error('after stop'));
  await flush();
  assert.equal(fake.starts, 9, 'no restart after stop');
});

test('ResilientInformer ignores errors while a restart is pending', async () => {
  const fake = new FakeInformer();
  let release: (() => void) | undefined;
  const inf = new ResilientInformer(fake.asInformer, { name: 't', staleAfterMs: 0, sleep: () => new Promise<void>((r) => (release = r)) });
  await inf.start();
  fake.fire('error', new Error('1'));
  fake.fire('error', new Error('2'));
  release?.();
  await flush();
  assert.equal(inf.restarts, 1);
  await inf.stop();
});

test('ResilientInformer restarts at once after an AbortError (its own aborted request), without backoff or stop', async () => {
  const fake = new FakeInformer();
  const sleeps: number[] = [];
  const inf = new ResilientInformer(fake.asInformer, { name: 't', staleAfterMs: 0, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });
  await inf.start();
  const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
  fake.fire('error', abort);
  await flush();
  assert.deepEqual(sleeps, []);
  assert.equal(fake.starts, 2);
  assert.equal(fake.stops, 0, 'never stop(): a late abort would kill the next watch');
  await inf.stop();
});

test('cached objects carry no managedFields, whether they came from the list or a watch event', async () => {
  const managed = [{ manager: 'dat-operator', operation: 'Update', fieldsV1: { 'f:metadata': {} } }];
  const obj = (name: string, rv: string): KubernetesObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', resourceVersion: rv, managedFields: managed.map((m) => ({ ...m })) } });
  let emit: ((phase: string, o: KubernetesObject) => void) | undefined;
  // client-node's real ListWatch, with the list and the watch stream supplied by the test.
  const watch = {
    watch: (_path: string, _q: unknown, cb: (phase: string, o: KubernetesObject) => void) => {
      emit = cb;
      return Promise.resolve(new AbortController());
    },
  } as unknown as Watch;
  const list = (): Promise<KubernetesListObject<KubernetesObject>> => Promise.resolve({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: [obj('listed', '1')] });
  const informer = new ListWatch<KubernetesObject>('/api/v1/pods', watch, list, false);
  trimCachedObjects(informer);
  const seen: string[] = [];
  informer.on('add', (o) => seen.push(`add ${o.metadata?.name} managedFields=${o.metadata?.managedFields !== undefined}`));
  await informer.start();
  emit!('ADDED', obj('watched', '2'));
  emit!('MODIFIED', obj('listed', '3'));
  const cases = [
    { name: 'from the list, then modified', key: 'listed', wantVersion: '3' },
    { name: 'from a watch event', key: 'watched', wantVersion: '2' },
  ];
  for (const c of cases) {
    const cached = informer.get(c.key, 'ns');
    assert.equal(cached?.metadata?.resourceVersion, c.wantVersion, c.name);
    assert.equal(cached?.metadata?.managedFields, undefined, c.name);
  }
  assert.deepEqual(seen, ['add listed managedFields=false', 'add watched managedFields=false'], 'later handlers see trimmed objects');
  await informer.stop();
});
