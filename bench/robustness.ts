/**
 * `npm run bench:robustness -- --model DIR [--dataset mnist] [--eps 0.3] [--n 500] [--out FILE]`:
 * the measurements behind docs/evaluation.md's "Why PGD-20 overstated
 * robustness", on the first `--n` held-out images of a saved model.
 *
 * 1. Each attack alone (PGD-20, APGD-CE, APGD-T, Square; FAB-T with
 *    --with-fab, it is the slowest and rarely decisive): which one finds the
 *    most, and how many points only the black-box Square breaks (more than a
 *    few is the classic sign of gradient masking, Athalye et al. 2018).
 * 2. Stronger PGD: more steps and random restarts (step 2.5 * eps / steps).
 *    Accuracy that keeps falling with steps and restarts means PGD-20 had
 *    not converged.
 * 3. An eps sweep with PGD-20: robust accuracy and the mean cross-entropy at
 *    x_adv must fall and rise monotonically with eps, and accuracy must reach
 *    0 at eps 1 (the whole image space), or the gradients are not usable
 *    (Carlini et al. 2019, "On Evaluating Adversarial Robustness", sec. 5).
 */
import * as tf from '@tensorflow/tfjs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../worker/backend/select-backend.js';
import { loadEvalDataset, loadEvalModel } from '../worker/eval/load-eval-inputs.js';
import { evalAttackFn, type EvalAttackName } from '../worker/eval/attacks/index.js';
import { correctMask, logitsOf } from '../worker/eval/attacks/types.js';
import { pgdAttack } from '../worker/train/attacks/pgd-attack.js';
import { crossEntropyOf } from '../worker/train/attacks/_common.js';
import { defaultEvalStepSize } from '../worker/train/evaluate.js';
import type { Split } from '../worker/data/types.js';
import { createLogger } from '../common/log.js';
import { getErrorMessage } from '../common/errors.js';
import { printTable } from './lib/report.js';

/** Examples attacked together (the eval default). */
const BATCH = 500;
/** PGD variants of Step 2: [steps, restarts]. */
const PGD_VARIANTS: readonly (readonly [number, number])[] = [[20, 1], [100, 1], [100, 5]];
/** L-inf radii of Step 3. */
const EPS_SWEEP = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0];

type Attack = (model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** Per-example correctness of the model on attack(x) over the first n examples, plus the mean CE at x_adv. */
async function attackAll(model: tf.LayersModel, split: Split, shape: readonly number[], n: number, attack: Attack): Promise<{ correct: Uint8Array; meanLoss: number; seconds: number }> {
  const t0 = performance.now();
  const size = shape.reduce((a, b) => a * b, 1);
  const correct = new Uint8Array(n);
  let lossSum = 0;
  for (let from = 0; from < n; from += BATCH) {
    const to = Math.min(n, from + BATCH);
    const x = tf.tensor4d(split.x.slice(from * size, to * size), [to - from, ...shape] as [number, number, number, number]);
    const y = tf.tensor1d(split.y.slice(from, to), 'int32');
    const xAdv = await attack(model, x, y);
    const [ok, loss] = tf.tidy(() => [correctMask(logitsOf(model, xAdv), y), tf.sum(crossEntropyOf(model, xAdv, y)).dataSync()[0]!] as const);
    tf.dispose([x, y, xAdv]);
    correct.set(ok, from);
    lossSum += loss;
  }
  return { correct, meanLoss: lossSum / n, seconds: (performance.now() - t0) / 1000 };
}

const pct = (m: Uint8Array): number => (100 * m.reduce((a, b) => a + b, 0)) / m.length;

function pgd(eps: number, steps: number, restarts: number): Attack {
  return (model, x, y) => pgdAttack(model, x, y, { eps, steps, stepSize: defaultEvalStepSize(eps, steps), restarts, randomStart: true, seed: 1 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      dataset: { type: 'string', default: 'mnist' },
      eps: { type: 'string', default: '0.3' },
      n: { type: 'string', default: '500' },
      out: { type: 'string' },
      'with-fab': { type: 'boolean', default: false },
    },
  });
  if (values.model === undefined) throw new Error('missing --model DIR');
  const eps = Number(values.eps);
  const log = createLogger({});
  await selectBackend('auto', log);
  const model = await loadEvalModel(values.model);
  const data = await loadEvalDataset(values.dataset!, undefined, log);
  const n = Math.min(Number(values.n), data.test.n);
  const shape = data.inputShape;
  const run = (a: Attack): ReturnType<typeof attackAll> => attackAll(model, data.test, shape, n, a);
  const clean = await run((_m, x) => tf.clone(x));

  // Step 1
  const names: EvalAttackName[] = ['pgd', 'apgd-ce', 'apgd-t', 'square', ...(values['with-fab'] === true ? (['fab-t'] as const) : [])];
  const alone: Array<{ name: EvalAttackName } & Awaited<ReturnType<typeof attackAll>>> = [];
  for (const name of names) {
    const fn = evalAttackFn(name);
    alone.push({ name, ...(await run((m, x, y) => fn(m, x, y, eps, 1))) });
  }
  const whiteBox = alone.filter((a) => a.name !== 'square' && a.name !== 'pgd').map((a) => a.correct);
  const square = alone.find((a) => a.name === 'square')!.correct;
  const onlySquare = square.reduce((acc, s, i) => acc + (s === 0 && whiteBox.every((w) => w[i] === 1) ? 1 : 0), 0);
  const worst = clean.correct.map((c, i) => (c === 1 && alone.every((a) => a.correct[i] === 1) ? 1 : 0));
  printTable(
    `Each attack alone, eps ${eps}, first ${n} held-out images (clean ${pct(clean.correct).toFixed(1)}%)`,
    ['attack', 'robust %', 'seconds'],
    [...alone.map((a) => [a.name, pct(a.correct), a.seconds]), ['worst case of all', pct(worst), undefined]],
  );
  process.stdout.write(`Broken only by Square (black-box), not by the white-box APGD attacks: ${onlySquare} of ${n}\n`);

  // Step 2
  const pgds = [];
  for (const [steps, restarts] of PGD_VARIANTS) pgds.push({ steps, restarts, ...(await run(pgd(eps, steps, restarts))) });
  printTable('PGD steps and restarts', ['steps', 'restarts', 'robust %', 'mean CE at x_adv', 'seconds'], pgds.map((p) => [String(p.steps), String(p.restarts), pct(p.correct), p.meanLoss.toFixed(3), p.seconds]));

  // Step 3
  const sweep = [];
  for (const e of EPS_SWEEP) sweep.push({ eps: e, ...(await run(pgd(e, 20, 1))) });
  printTable('PGD-20 against eps', ['eps', 'robust %', 'mean CE at x_adv'], sweep.map((s) => [String(s.eps), pct(s.correct), s.meanLoss.toFixed(3)]));

  const result = {
    model: values.model,
    dataset: values.dataset,
    eps,
    nExamples: n,
    cleanAccuracy: pct(clean.correct) / 100,
    alone: alone.map((a) => ({ attack: a.name, robustAccuracy: pct(a.correct) / 100, seconds: a.seconds })),
    worstCaseAccuracy: pct(worst) / 100,
    brokenOnlyBySquare: onlySquare,
    pgd: pgds.map((p) => ({ steps: p.steps, restarts: p.restarts, robustAccuracy: pct(p.correct) / 100, meanLoss: p.meanLoss })),
    epsSweep: sweep.map((s) => ({ eps: s.eps, robustAccuracy: pct(s.correct) / 100, meanLoss: s.meanLoss })),
  };
  if (values.out !== undefined) {
    await writeFile(values.out, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`Wrote ${values.out}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:robustness failed: ${getErrorMessage(err)}\n`);
  process.exitCode = 1;
});
