import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planAxis, type AxisPlan } from '../../../../worker/backend/wasm/subpixel-plan.js';

describe('planAxis', () => {
  type Args = Parameters<typeof planAxis>;
  const cases: { name: string; args: Args; want: AxisPlan | undefined }[] = [
    {
      name: 'small-cnn conv2: k4 s2 pad 1, 14 -> 7',
      args: [14, 7, 4, 2, 1],
      want: {
        stride: 2,
        length: 7,
        phases: [
          { residue: 0, firstTap: 1, taps: 2, padBefore: 1, padAfter: 0 },
          { residue: 1, firstTap: 0, taps: 2, padBefore: 0, padAfter: 1 },
        ],
      },
    },
    {
      name: 'stride 1 is one phase with the flipped filter: k3 pad 1',
      args: [8, 8, 3, 1, 1],
      want: { stride: 1, length: 8, phases: [{ residue: 0, firstTap: 0, taps: 3, padBefore: 1, padAfter: 1 }] },
    },
    { name: 'a phase without taps (k1 s2) cannot be planned', args: [8, 4, 1, 2, 0], want: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(planAxis(...c.args), c.want);
    });
  }
});
