import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandAttacks, formatEvalArgs, parseEvalArgs } from '../../../worker/eval/eval-options.js';
import { ConfigError } from '../../../common/errors.js';

const BASE = ['--model', 'm', '--dataset', 'mnist', '--eps', '0.3'];

test('eval options: defaults and autoattack expansion', () => {
  const o = parseEvalArgs(BASE);
  assert.deepEqual(
    { attacks: o.attacks, norm: o.norm, batchSize: o.batchSize, seed: o.seed, workers: o.workers },
    { attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'], norm: 'linf', batchSize: 500, seed: 0, workers: 1 },
  );
  assert.deepEqual(expandAttacks(['pgd', 'autoattack', 'apgd-ce']), ['pgd', 'apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.equal(parseEvalArgs([...BASE.slice(0, 4), '--eps', '8/255']).eps, 8 / 255);
});

test('eval options: formatEvalArgs parses back to the same options', () => {
  const o = parseEvalArgs([...BASE, '--attacks', 'pgd,square', '--n-examples', '7', '--workers', '3', '--out', 'o']);
  assert.deepEqual(parseEvalArgs(formatEvalArgs(o)), o);
});

const bad = [
  { name: 'eps above 1', argv: [...BASE.slice(0, 4), '--eps', '1.5'], re: /--eps: expected a number in \(0, 1\]/ },
  { name: 'eps 0', argv: [...BASE.slice(0, 4), '--eps', '0'], re: /--eps/ },
  { name: 'negative eps', argv: [...BASE.slice(0, 4), '--eps', '-0.1'], re: /--eps/ },
  { name: 'unknown attack', argv: [...BASE, '--attacks', 'apgd-ce,cw'], re: /--attacks: expected comma-separated values from autoattack, pgd/ },
  { name: 'unknown norm', argv: [...BASE, '--norm', 'l2'], re: /--norm: expected one of linf/ },
  { name: 'missing model', argv: BASE.slice(2), re: /missing --model/ },
  { name: 'unknown flag', argv: [...BASE, '--epochs', '3'], re: /unknown option --epochs for dat eval/ },
];
for (const c of bad) {
  test(`eval options: ${c.name} is a ConfigError naming the flag`, () => {
    assert.throws(() => parseEvalArgs(c.argv), (e: unknown) => e instanceof ConfigError && c.re.test(e.message));
  });
}
