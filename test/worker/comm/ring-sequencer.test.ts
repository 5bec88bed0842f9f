/** Operation sequencing of the gRPC ring: serial execution, sequence numbers, which Pulls are in order, slots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodePool } from '../../../worker/comm/encode-pool.js';
import { Outbound } from '../../../worker/comm/ring-outbound.js';
import { OpSequencer } from '../../../worker/comm/ring-sequencer.js';

const newSequencer = (): OpSequencer => new OpSequencer(() => new Outbound(() => undefined, new EncodePool(1024, 1)));

test('operations run one after another, in order, even when one fails', async () => {
  const seq = newSequencer();
  const log: string[] = [];
  const op = (name: string, ms: number, fail = false) => () =>
    new Promise<string>((resolve, reject) => {
      log.push(`start ${name}`);
      setTimeout(() => {
        log.push(`end ${name}`);
        if (fail) reject(new Error(name));
        else resolve(name);
      }, ms);
    });
  const results = await Promise.allSettled([seq.enqueue(op('a', 20)), seq.enqueue(op('b', 1, true)), seq.enqueue(op('c', 1))]);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});

test('pulls are accepted from one operation behind to one ahead of the current one', () => {
  const cases: Array<{ name: string; started: number; seq: number; refused: boolean }> = [
    { name: 'first operation before it starts', started: 0, seq: 0, refused: false },
    { name: 'one ahead before any starts', started: 0, seq: 1, refused: false },
    { name: 'two ahead', started: 0, seq: 2, refused: true },
    { name: 'the current operation', started: 3, seq: 2, refused: false },
    { name: 'the next operation', started: 3, seq: 3, refused: false },
    { name: 'one after next', started: 3, seq: 4, refused: false },
    { name: 'an operation long over', started: 3, seq: 1, refused: true },
    { name: 'far ahead', started: 3, seq: 9, refused: true },
  ];
  for (const c of cases) {
    const s = newSequencer();
    for (let i = 0; i < c.started; i++) s.begin();
    const why = s.refusePull(c.seq, 1, 0);
    assert.equal(why !== undefined, c.refused, `${c.name}: ${why}`);
    if (why !== undefined) assert.match(why, new RegExp(`refused a pull for operation ${c.seq} from rank 1`));
  }
});

test('current is the last started operation, and slots live until released', () => {
  const s = newSequencer();
  assert.equal(s.current, 0);
  assert.equal(s.begin(), 0);
  assert.equal(s.begin(), 1);
  assert.equal(s.current, 1);
  const a = s.slot(1, 2);
  assert.equal(s.slot(1, 2), a, 'the same slot for the same operation and receiver');
  assert.notEqual(s.slot(1, 0), a);
  assert.equal([...s.outbound()].length, 2);
  s.release(1, [2, 0]);
  assert.equal([...s.outbound()].length, 0);
  assert.notEqual(s.slot(1, 2), a, 'a released slot is not reused');
});
