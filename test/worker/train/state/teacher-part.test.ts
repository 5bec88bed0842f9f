import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkParts, loadParts, saveParts } from '../../../../worker/checkpoint/checkpoint-part.js';
import { createTeacherPart, TEACHER_PART } from '../../../../worker/train/state/teacher-part.js';
import { TEACHER_ORIGINS, TeacherState } from '../../../../worker/train/unlabeled/teacher-state.js';
import type { Split } from '../../../../worker/data/types.js';

const pool = (n: number): Split => ({ n, x: new Float32Array(n * 2), y: new Int32Array(n).fill(-1) });

describe('teacher part', () => {
  it('saves nothing before the teacher has labelled the pool', async () => {
    assert.equal((await saveParts([createTeacherPart(new TeacherState(pool(3)))])).size, 0);
  });

  it('round-trips the labels and weights into a fresh state, marked as restored', async () => {
    const a = new TeacherState(pool(3));
    a.set({ labels: Int32Array.of(2, 0, 9), weights: Float32Array.of(0.5, -1.25, 3) }, TEACHER_ORIGINS.trained);
    const saved = await saveParts([createTeacherPart(a)]);
    const b = new TeacherState(pool(3));
    const parts = [createTeacherPart(b)];
    checkParts(parts, saved, 'file');
    assert.deepEqual(loadParts(parts, saved), []);
    assert.equal(b.origin, TEACHER_ORIGINS.checkpoint);
    assert.deepEqual(b.snapshot(), a.snapshot());
    assert.deepEqual([...b.pseudoLabeled().y], [2, 0, 9]);
  });

  const bad: { name: string; tensors: [string, Float32Array][]; meta: unknown; want: RegExp }[] = [
    { name: 'labels missing', tensors: [['weights', Float32Array.of(1)]], meta: { labels: 1, weights: 1 }, want: /teacher\/pseudo-labels is missing/ },
    { name: 'counts differ from the meta', tensors: [['weights', Float32Array.of(1)], ['pseudo-labels', Float32Array.of(1, 2)]], meta: { labels: 3, weights: 1 }, want: /2 labels and 1 weights, its configuration says 3 and 1/ },
    { name: 'a label that is not a class index', tensors: [['weights', Float32Array.of(1)], ['pseudo-labels', Float32Array.of(1.5)]], meta: { labels: 1, weights: 1 }, want: /pseudo-label 1.5 at index 0/ },
  ];
  for (const c of bad) {
    it(`check refuses a file with ${c.name}`, () => {
      const saved = new Map([[TEACHER_PART, { meta: c.meta, tensors: new Map(c.tensors) }]]);
      assert.throws(() => checkParts([createTeacherPart(new TeacherState(pool(1)))], saved, 'f'), c.want);
    });
  }

  it('a restored state refuses labels that do not fit the pool (the source changed)', () => {
    assert.throws(() => new TeacherState(pool(4)).set({ labels: Int32Array.of(1, 2), weights: new Float32Array(0) }, TEACHER_ORIGINS.checkpoint), /--unlabeled-data: the teacher's 2 pseudo-labels \(checkpoint\) do not match the 4 unlabelled images/);
  });
});
