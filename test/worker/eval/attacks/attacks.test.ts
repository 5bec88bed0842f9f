/** Properties every `dat eval` attack must have, table-driven over the attacks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { apgdCeAttack, apgdTAttack, evalAttackFn, fabTAttack, squareAttack } from '../../../../worker/eval/attacks/index.js';
import { ConfigError } from '../../../../common/errors.js';
import { distAndRange, tinyBatch, tinyModel } from './_fixtures.js';
import { countEventLoopTurns } from '../../../support/event-loop-turns.js';

await tf.setBackend('cpu');

const model = tinyModel();
const { x, y } = tinyBatch(model);
const EPS = 0.05;

type Run = (steps: number, seed: number) => Promise<tf.Tensor4D>;
const cases: readonly { name: string; run: Run }[] = [
  { name: 'apgd-ce', run: (steps, seed) => apgdCeAttack(model, x, y, EPS, seed, { steps }) },
  { name: 'apgd-t', run: (steps, seed) => apgdTAttack(model, x, y, EPS, seed, { steps, targets: 2 }) },
  { name: 'fab-t', run: (steps, seed) => fabTAttack(model, x, y, EPS, seed, { steps, targets: 2 }) },
  { name: 'square', run: (steps, seed) => squareAttack(model, x, y, EPS, seed, { queries: steps }) },
];

function sameValues(a: tf.Tensor, b: tf.Tensor): boolean {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
  return d === 0;
}

for (const c of cases) {
  test(`${c.name}: result stays in the eps-ball and in [0, 1]`, async () => {
    const xAdv = await c.run(10, 3);
    const { dist, lo, hi } = distAndRange(x, xAdv);
    xAdv.dispose();
    assert.ok(dist <= EPS + 1e-6, `L-inf distance ${dist} > eps ${EPS}`);
    assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  });

  test(`${c.name}: tf.memory().numTensors stays flat however many iterations run`, async () => {
    (await c.run(2, 3)).dispose(); // warm-up: kernels and lazily created variables
    const before = tf.memory().numTensors;
    (await c.run(2, 3)).dispose();
    const afterShort = tf.memory().numTensors;
    (await c.run(12, 3)).dispose();
    const afterLong = tf.memory().numTensors;
    assert.deepEqual([afterShort, afterLong], [before, before]);
  });

  test(`${c.name}: lets the event loop run between iterations (a worker keeps answering its peers)`, async () => {
    const { result, turns } = await countEventLoopTurns(() => c.run(12, 3));
    result.dispose();
    assert.ok(turns >= 2, `${turns} event-loop turns while the attack ran 12 iterations`);
  });

  test(`${c.name}: the same seed gives the same result`, async () => {
    const a = await c.run(6, 5);
    const b = await c.run(6, 5);
    const same = sameValues(a, b);
    tf.dispose([a, b]);
    assert.ok(same);
  });
}

test('eval attacks: a bad argument is a ConfigError naming the attack and the argument', async () => {
  const want = [
    { run: () => apgdCeAttack(model, x, y, 1.5, 1), re: /apgd-ce: eps/ },
    { run: () => apgdTAttack(model, x, y, EPS, 1, { steps: 0 }), re: /apgd-t: steps/ },
    { run: () => squareAttack(model, x, y, EPS, 1, { queries: 0 }), re: /square: queries/ },
    { run: () => squareAttack(model, x, y, EPS, 1, { pInit: 2 }), re: /square: pInit/ },
    { run: () => fabTAttack(model, x, y, -1, 1), re: /fab-t: eps/ },
  ];
  for (const w of want) await assert.rejects(w.run, (e: unknown) => e instanceof ConfigError && w.re.test(e.message));
});

test('eval attacks: evalAttackFn resolves every name', () => {
  for (const name of ['pgd', 'apgd-ce', 'apgd-t', 'fab-t', 'square'] as const) assert.equal(typeof evalAttackFn(name), 'function');
});
