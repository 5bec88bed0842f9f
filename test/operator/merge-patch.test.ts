import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMergePatch } from '../../operator/merge-patch.js';

test('buildMergePatch produces RFC 7386 patches', () => {
  const cases = [
    { name: 'equal', a: { x: 1 }, b: { x: 1 }, want: undefined },
    { name: 'changed scalar', a: { x: 1 }, b: { x: 2 }, want: { x: 2 } },
    { name: 'removed key becomes null', a: { x: 1, y: 2 }, b: { x: 1 }, want: { y: null } },
    { name: 'undefined counts as absent', a: { x: 1 }, b: { x: 1, y: undefined }, want: undefined },
    { name: 'nested', a: { p: { s: 1, t: 2 } }, b: { p: { s: 3 } }, want: { p: { s: 3, t: null } } },
    { name: 'arrays replaced whole', a: { c: [1, 2] }, b: { c: [1] }, want: { c: [1] } },
    { name: 'added object', a: {}, b: { w: { a: 1 } }, want: { w: { a: 1 } } },
  ];
  for (const c of cases) assert.deepEqual(buildMergePatch(c.a, c.b), c.want, c.name);
});
