import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { applyCropFlip, CROP_PADDING, cropFlipIndices, drawCropFlip, type CropFlip } from '../../../worker/train/augment.js';
import { ConfigError } from '../../../common/errors.js';

await tf.setBackend('cpu');

/** The reference semantics, pixel by pixel: zero-pad by `pad`, cut at (dy, dx), mirror the window when flipped. */
function cropFlipReference(x: Float32Array, [n, h, w, c]: readonly [number, number, number, number], plan: CropFlip): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let xo = 0; xo < w; xo++) {
        const xs = plan.flip[i] === 1 ? w - 1 - xo : xo;
        const sy = y + plan.dy[i]! - plan.pad;
        const sx = xs + plan.dx[i]! - plan.pad;
        for (let ch = 0; ch < c; ch++) {
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          out[((i * h + y) * w + xo) * c + ch] = inside ? x[((i * h + sy) * w + sx) * c + ch]! : 0;
        }
      }
    }
  }
  return out;
}

/** A batch whose every value is distinct and non-zero, so a wrong index or a missing zero shows. */
function distinctBatch(shape: readonly [number, number, number, number]): Float32Array {
  const size = shape.reduce((a, d) => a * d, 1);
  return Float32Array.from({ length: size }, (_, k) => k + 1);
}

const fixed = (dy: number[], dx: number[], flip: number[], pad = CROP_PADDING): CropFlip => ({ pad, dy: Int32Array.from(dy), dx: Int32Array.from(dx), flip: Uint8Array.from(flip) });

const cases: readonly { name: string; shape: readonly [number, number, number, number]; plan: CropFlip }[] = [
  { name: 'centre window, no flip: the identity', shape: [1, 6, 6, 3], plan: fixed([4], [4], [0]) },
  { name: 'centre window, flipped: a mirror', shape: [1, 6, 6, 3], plan: fixed([4], [4], [1]) },
  { name: 'top-left corner (0, 0): 4 rows and columns of zeros', shape: [1, 6, 6, 3], plan: fixed([0], [0], [0]) },
  { name: 'bottom-right corner (8, 8), flipped', shape: [1, 6, 6, 3], plan: fixed([8], [8], [1]) },
  { name: 'a batch of 3, each its own window', shape: [3, 5, 7, 2], plan: fixed([0, 3, 8], [8, 5, 1], [1, 0, 1]) },
  { name: 'pad 1 on 32x32x3 (CIFAR shape)', shape: [2, 32, 32, 3], plan: fixed([2, 0], [1, 2], [0, 1], 1) },
];

for (const c of cases) {
  test(`applyCropFlip: ${c.name}`, () => {
    const x = distinctBatch(c.shape);
    const want = cropFlipReference(x, c.shape, c.plan);
    const got = tf.tidy(() => applyCropFlip(tf.tensor4d(x, [...c.shape]), c.plan).dataSync() as Float32Array);
    assert.deepEqual(Array.from(got), Array.from(want));
  });
}

test('applyCropFlip at the centre without a flip returns the batch unchanged (the padding is cut away)', () => {
  const shape = [2, 32, 32, 3] as const;
  const x = distinctBatch(shape);
  const got = tf.tidy(() => applyCropFlip(tf.tensor4d(x, [...shape]), fixed([4, 4], [4, 4], [0, 0])).dataSync() as Float32Array);
  assert.deepEqual(got, x);
});

test('drawCropFlip: the same seed gives the same choices; another seed other ones', () => {
  const a = drawCropFlip(256, 11);
  const b = drawCropFlip(256, 11);
  const c = drawCropFlip(256, 12);
  assert.deepEqual(a, b);
  assert.notDeepEqual(Array.from(a.dy), Array.from(c.dy));
  assert.notDeepEqual(Array.from(a.flip), Array.from(c.flip));
});

test('drawCropFlip covers every offset in [0, 8] on both axes, and flips about half the examples', () => {
  const n = 20_000;
  const plan = drawCropFlip(n, 3);
  for (const [axis, offsets] of [
    ['dy', plan.dy],
    ['dx', plan.dx],
  ] as const) {
    const counts = new Array<number>(2 * CROP_PADDING + 1).fill(0);
    for (const o of offsets) counts[o]!++;
    assert.equal(
      counts.reduce((a, k) => a + k, 0),
      n,
      `${axis}: every offset lies in [0, 8]`,
    );
    // Uniform over 9 values: 2,222 expected each; 5 standard deviations is about ±235.
    for (const [o, k] of counts.entries()) assert.ok(Math.abs(k - n / 9) < 250, `${axis} offset ${o} drawn ${k} times of ${n}`);
  }
  const flips = plan.flip.reduce((a, f) => a + f, 0);
  assert.ok(Math.abs(flips - n / 2) < 400, `${flips} flips of ${n}`);
});

test('drawCropFlip refuses a bad count or padding by name', () => {
  assert.throws(() => drawCropFlip(-1, 1), (e: unknown) => e instanceof ConfigError && /n must be/.test(e.message));
  assert.throws(() => drawCropFlip(2, 1, 1.5), (e: unknown) => e instanceof ConfigError && /pad must be/.test(e.message));
});

test('applyCropFlip refuses a plan for another batch size', () => {
  const x = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
  try {
    assert.throws(() => applyCropFlip(x, drawCropFlip(3, 1)), /plan covers 3 examples, the batch has 2/);
  } finally {
    x.dispose();
  }
});

test('cropFlipIndices stay inside the padded batch for every offset and flip', () => {
  const [n, h, w] = [81 * 2, 4, 5];
  const dy: number[] = [];
  const dx: number[] = [];
  const flip: number[] = [];
  for (let a = 0; a <= 8; a++) {
    for (let b = 0; b <= 8; b++) {
      for (const f of [0, 1]) {
        dy.push(a);
        dx.push(b);
        flip.push(f);
      }
    }
  }
  const idx = cropFlipIndices(fixed(dy, dx, flip), h, w);
  const padded = n * (h + 8) * (w + 8);
  assert.equal(idx.length, n * h * w);
  assert.ok(idx.every((k) => k >= 0 && k < padded));
});

test('tf.memory().numTensors stays flat across augmented batches', () => {
  const shape = [8, 32, 32, 3] as const;
  const x = tf.tensor4d(distinctBatch(shape), [...shape]);
  try {
    const run = (seed: number): void => {
      const out = applyCropFlip(x, drawCropFlip(shape[0], seed));
      out.dispose();
    };
    run(1);
    const before = tf.memory().numTensors;
    for (let s = 2; s < 7; s++) run(s);
    assert.equal(tf.memory().numTensors, before);
  } finally {
    x.dispose();
  }
});
