import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandAttacks, formatEvalArgs, parseEvalArgs } from '../../../worker/eval/eval-options.js';
import { ConfigError } from '../../../common/errors.js';
import { FINAL_EVAL_ATTACKS } from '../../../common/contract.js';
import { EVAL_ATTACK_NAMES } from '../../../worker/eval/attacks/types.js';

const BASE = ['--model', 'm', '--dataset', 'mnist', '--eps', '0.3'];

test('eval options: defaults and autoattack expansion', () => {
  const o = parseEvalArgs(BASE);
  assert.deepEqual(
    { attacks: o.attacks, norm: o.norm, batchSize: o.batchSize, seed: o.seed, workers: o.workers },
    { attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'], norm: 'linf', batchSize: 500, seed: 0, workers: 1 },
  );
  assert.deepEqual(expandAttacks(['pgd', 'autoattack', 'apgd-ce']), ['pgd', 'apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.equal(parseEvalArgs([...BASE.slice(0, 4), '--eps', '8/255']).eps, 8 / 255);
  // eps 0: the ball is the image itself, so the evaluation is clean accuracy.
  assert.equal(parseEvalArgs([...BASE.slice(0, 4), '--eps', '0']).eps, 0);
});

test('eval options: formatEvalArgs parses back to the same options', () => {
  const o = parseEvalArgs([...BASE, '--attacks', 'pgd,square', '--n-examples', '7', '--workers', '3', '--out', 'o']);
  assert.deepEqual(parseEvalArgs(formatEvalArgs(o)), o);
});

const bad = [
  { name: 'eps above 1', argv: [...BASE.slice(0, 4), '--eps', '1.5'], re: /--eps: expected a number in \[0, 1\]/ },
  { name: 'negative eps', argv: [...BASE.slice(0, 4), '--eps', '-0.1'], re: /--eps/ },
  // The unknown entry is named alone and the accepted values are listed once.
  { name: 'unknown attack', argv: [...BASE, '--attacks', 'apgd-ce,cw'], re: /^unknown value "cw" for --attacks: expected comma-separated values from autoattack, pgd, apgd-ce, apgd-t, fab-t, square$/ },
  { name: 'two unknown attacks', argv: [...BASE, '--attacks', 'cw,apgd-ce,deepfool'], re: /^unknown values "cw", "deepfool" for --attacks: expected comma-separated values from autoattack, pgd, apgd-ce, apgd-t, fab-t, square$/ },
  { name: 'unknown norm', argv: [...BASE, '--norm', 'l2'], re: /--norm: expected one of linf/ },
  { name: 'missing model', argv: BASE.slice(2), re: /missing --model/ },
  { name: 'unknown flag', argv: [...BASE, '--epochs', '3'], re: /unknown option --epochs for dat eval/ },
];
for (const c of bad) {
  test(`eval options: ${c.name} is a ConfigError naming the flag`, () => {
    assert.throws(() => parseEvalArgs(c.argv), (e: unknown) => e instanceof ConfigError && c.re.test(e.message));
  });
}

test('dat train --final-eval takes exactly dat eval\'s attack words, plus none', () => {
  assert.deepEqual([...FINAL_EVAL_ATTACKS], ['none', 'autoattack', ...EVAL_ATTACK_NAMES]);
});
