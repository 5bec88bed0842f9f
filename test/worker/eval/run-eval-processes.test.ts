/**
 * `dat eval` as a user runs it, on real models trained here on the built-in
 * MNIST digits: the paper-level checks (AutoAttack breaks a standard model;
 * it is at least as strong as PGD-20 on a PGD-trained one), determinism,
 * sharding over processes, and exit codes. Multi-process and slow (a few
 * minutes on 2 cores), so kept apart from the single-process tests.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { EvalReport } from '../../../worker/eval/eval-report.js';
import { saveModel } from '../../../worker/train/save-model.js';

const MAIN = fileURLToPath(new URL('../../../worker/main.js', import.meta.url));
let work = '';

function dat(args: readonly string[]): { code: number; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env } });
  return { code: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

function train(name: string, attack: string, epochs: number): string {
  const out = join(work, name);
  const r = dat(['train', '--dataset', 'mnist', '--model', 'small-cnn', '--attack', attack, '--eps', '0.3', '--epochs', String(epochs), '--output', out, '--progress', 'none']);
  assert.equal(r.code, 0, r.stderr);
  return join(out, 'model');
}

async function evaluate(model: string, out: string, extra: readonly string[]): Promise<EvalReport> {
  const r = dat(['eval', '--model', model, '--dataset', 'mnist', '--eps', '0.3', '--out', join(work, out), '--progress', 'none', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await readFile(join(work, out, 'eval.json'), 'utf8')) as EvalReport;
}

let standard = '';
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dat-eval-e2e-'));
  standard = train('standard', 'none', 2);
});

test('dat eval: AutoAttack at eps 0.3 leaves a standard-trained MNIST model at most 1% robust', async () => {
  const r = await evaluate(standard, 'aa-standard', ['--attacks', 'autoattack', '--n-examples', '200']);
  assert.ok(r.cleanAccuracy > 0.9, `clean ${r.cleanAccuracy}`);
  assert.deepEqual(r.attacks, ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.ok(r.robustAccuracy <= 0.01, `AutoAttack robust accuracy ${r.robustAccuracy}`);
});

test('dat eval: on a PGD-trained model AutoAttack is at most the PGD-20 figure', async () => {
  const pgdModel = train('pgd', 'pgd', 2);
  const pgd = await evaluate(pgdModel, 'pgd20', ['--attacks', 'pgd', '--n-examples', '100']);
  const aa = await evaluate(pgdModel, 'aa-pgd', ['--attacks', 'autoattack', '--n-examples', '100']);
  assert.equal(aa.cleanAccuracy, pgd.cleanAccuracy);
  assert.ok(pgd.robustAccuracy > 0, `PGD-20 broke everything (${pgd.robustAccuracy}): the comparison would be empty`);
  assert.ok(aa.robustAccuracy <= pgd.robustAccuracy, `AutoAttack ${aa.robustAccuracy} > PGD-20 ${pgd.robustAccuracy}`);
});

test('dat eval: the same seed gives the same eval.json, with 1 or 2 worker processes', async () => {
  const args = ['--attacks', 'pgd,apgd-ce,square', '--n-examples', '90', '--batch-size', '40', '--seed', '7'];
  await evaluate(standard, 'det-a', args);
  await evaluate(standard, 'det-b', args);
  await evaluate(standard, 'det-w2', [...args, '--workers', '2']);
  const [a, b, w2] = await Promise.all(['det-a', 'det-b', 'det-w2'].map((d) => readFile(join(work, d, 'eval.json'), 'utf8')));
  assert.equal(b, a);
  assert.equal(w2, a);
});

test('dat eval: bad input exits as dat train does (2 bad option, 4 bad data) with a message naming the flag', async () => {
  // A foreign model for 32x32 colour images, evaluated on 28x28 digits.
  const cifarShaped = join(work, 'cifar-shaped');
  const foreign = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 2, kernelSize: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] });
  await saveModel(foreign, cifarShaped);
  foreign.dispose();
  const cases = [
    { args: ['--model', cifarShaped, '--dataset', 'mnist', '--eps', '0.3'], code: 4, re: /--dataset mnist does not fit --model .*\[null, 32, 32, 3\]/ },
    { args: ['--model', standard, '--dataset', 'mnist', '--eps', '2'], code: 2, re: /--eps/ },
    { args: ['--model', standard, '--dataset', 'mnist', '--eps', '0.3', '--attacks', 'deepfool'], code: 2, re: /--attacks/ },
    { args: ['--model', join(work, 'nothing'), '--dataset', 'mnist', '--eps', '0.3'], code: 2, re: /--model/ },
    { args: ['--model', standard, '--dataset', 'cifar10', '--eps', '0.3'], code: 2, re: /--data-dir/ },
  ];
  for (const c of cases) {
    const r = dat(['eval', ...c.args]);
    assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.re);
  }
});
