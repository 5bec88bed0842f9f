import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressReport } from '../../../common/contract.js';
import { createProgressDisplay, formatDuration, formatProgressLine, parseProgressLine, type DisplayOutput } from '../../../worker/cli/progress-display.js';

function sink(isTTY = false): DisplayOutput & { text: () => string } {
  let buf = '';
  return { isTTY, write: (s: string) => (buf += s), text: () => buf };
}

const at = (step: number, over: Partial<ProgressReport> = {}): ProgressReport => ({
  phase: 'training',
  epoch: 1,
  totalEpochs: 2,
  step,
  totalSteps: 100,
  loss: 0.5,
  imagesPerSecond: 250,
  lastHeartbeat: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('formatDuration', () => {
  for (const [s, want] of [[9, '9s'], [185, '3m05s'], [3725, '1h02m'], [-1, '?']] as const) {
    it(`${s} s → ${want}`, () => assert.equal(formatDuration(s), want));
  }
});

describe('formatProgressLine', () => {
  it('shows epoch, step, loss, images/s, accuracies and ETA', () => {
    assert.equal(
      formatProgressLine({ ...at(40), cleanAccuracy: 0.9712, robustAccuracy: 0.8, workers: 2 }, 130),
      'epoch 1/2  step 40/100  loss 0.5000  250 img/s  2 workers  clean 97.1%  robust 80.0%  ETA 2m10s',
    );
  });
});

describe('createProgressDisplay', () => {
  it('tty redraws one line and throttles', () => {
    let t = 0;
    const out = sink(true);
    const d = createProgressDisplay('auto', out, { now: () => t });
    d.update(at(1));
    t = 10;
    d.update(at(2)); // throttled
    t = 1000;
    d.update(at(11));
    d.finish();
    const frames = out.text().split('\r\x1b[2K').filter(Boolean);
    assert.equal(frames.length, 2);
    assert.match(frames[1]!, /^epoch 1\/2 {2}step 11\/100 .* ETA 9s\n$/);
  });

  it('plain prints every interval and on phase change', () => {
    let t = 0;
    const out = sink(false);
    const d = createProgressDisplay('auto', out, { now: () => t, plainIntervalMs: 5000 });
    for (let s = 1; s <= 10; s++) {
      t = s * 1000;
      d.update(at(s));
    }
    d.update(at(10, { phase: 'evaluating' }));
    const lines = out.text().trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split('  ').slice(0, 2).join(' ')),
      ['epoch 1/2 step 1/100', 'epoch 1/2 step 6/100', 'evaluating after epoch 1/2 step 10/100'],
    );
  });

  it('json prints one parseable object per update and log line', () => {
    const out = sink(false);
    const d = createProgressDisplay('json', out);
    d.update({ ...at(3), workers: 2 });
    d.log('Started training');
    const lines = out.text().trim().split('\n').map(parseProgressLine);
    assert.deepEqual(lines, [{ ...at(3), workers: 2 }, { log: 'Started training' }]);
    assert.equal(parseProgressLine('not json'), undefined);
    assert.equal(parseProgressLine('{"x":1}'), undefined);
  });

  it('none prints nothing', () => {
    const out = sink(true);
    const d = createProgressDisplay('none', out);
    d.update(at(1));
    d.log('x');
    d.finish();
    assert.equal(out.text(), '');
  });
});
