import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { COMPILED_STEP_ENV, compiledStepEnabled, stepEngineChooser } from '../../../worker/backend/compile-step.js';
import { eagerStepEngine } from '../../../worker/train/step-engine.js';
import { createModel } from '../../../worker/train/models/index.js';
import { ConfigError } from '../../../common/errors.js';
import { createLogger, type Logger } from '../../../common/log.js';
import { initBackends, skipIfUnavailable } from './_compare.js';

const MNIST = [28, 28, 1] as const;

/** A logger keeping its lines (without the timestamp) for assertions. */
function capturingLogger(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  return { lines, log: createLogger({}, (l) => lines.push(l.replace(/^\S+ /, ''))) };
}

describe('compiledStepEnabled', () => {
  const cases: readonly { name: string; value: string | undefined; want: boolean }[] = [
    { name: 'unset', value: undefined, want: true },
    { name: 'empty', value: '', want: true },
    { name: 'on', value: 'on', want: true },
    { name: '1', value: '1', want: true },
    { name: 'true', value: 'true', want: true },
    { name: 'ON in capitals', value: 'ON', want: true },
    { name: 'off', value: 'off', want: false },
    { name: '0', value: '0', want: false },
    { name: 'false', value: 'false', want: false },
    { name: 'OFF with spaces', value: '  OFF \t', want: false },
    { name: 'False', value: 'False', want: false },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.want}`, () => {
      const env = c.value === undefined ? {} : { [COMPILED_STEP_ENV]: c.value };
      assert.equal(compiledStepEnabled(env), c.want);
    });
  }

  const bad = ['garbage', 'yes', 'no', '2', 'of f', 'onn'];
  for (const value of bad) {
    test(`${JSON.stringify(value)} → ConfigError naming ${COMPILED_STEP_ENV}`, () => {
      assert.throws(
        () => compiledStepEnabled({ [COMPILED_STEP_ENV]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`${COMPILED_STEP_ENV}=${value}`) && /expected on or off/.test(err.message),
      );
    });
  }

  test('the variable is DAT_COMPILED_STEP, and it defaults to process.env', () => {
    assert.equal(COMPILED_STEP_ENV, 'DAT_COMPILED_STEP');
    const saved = process.env[COMPILED_STEP_ENV];
    try {
      process.env[COMPILED_STEP_ENV] = 'off';
      assert.equal(compiledStepEnabled(), false);
      delete process.env[COMPILED_STEP_ENV];
      assert.equal(compiledStepEnabled(), true);
    } finally {
      if (saved === undefined) delete process.env[COMPILED_STEP_ENV];
      else process.env[COMPILED_STEP_ENV] = saved;
    }
  });
});

describe('stepEngineChooser', () => {
  before(initBackends);
  after(async () => {
    await tf.setBackend('cpu');
  });

  test('rejects a bad DAT_COMPILED_STEP when the hook is built, before any model', () => {
    const { lines, log } = capturingLogger();
    assert.throws(() => stepEngineChooser(log, { [COMPILED_STEP_ENV]: 'maybe' }), ConfigError);
    assert.deepEqual(lines, []);
  });

  test('disabled: runs eagerly, logging the variable as the reason', async () => {
    const { lines, log } = capturingLogger();
    // On tensorflow when available, so the switch (not the backend) is what decides.
    await tf.setBackend(tf.findBackend('tensorflow') !== null ? 'tensorflow' : 'cpu');
    const model = createModel('small-cnn', MNIST, 10, 1);
    try {
      assert.equal(stepEngineChooser(log, { [COMPILED_STEP_ENV]: 'off' })(model), eagerStepEngine);
      assert.deepEqual(lines, ['INFO Kept the training step eager reason="DAT_COMPILED_STEP=off"']);
    } finally {
      model.dispose();
    }
  });

  const eagerBackends = ['cpu', 'wasm'] as const;
  for (const backend of eagerBackends) {
    test(`on ${backend}: runs eagerly, logging the backend as the reason`, async (t) => {
      if (backend === 'wasm' && skipIfUnavailable(t, 'wasm')) return;
      await tf.setBackend(backend);
      const { lines, log } = capturingLogger();
      const model = createModel('small-cnn', MNIST, 10, 1);
      try {
        assert.equal(stepEngineChooser(log, {})(model), eagerStepEngine);
        assert.deepEqual(lines, [`INFO Kept the training step eager reason="backend ${backend} does not run TensorFlow graphs"`]);
      } finally {
        model.dispose();
      }
    });
  }

  test('on tensorflow, a model the graphs cannot run: eagerly, with the planner’s reason', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    await tf.setBackend('tensorflow');
    const { lines, log } = capturingLogger();
    // Dropout has no graph (preact-resnet, once the example here, now compiles).
    const model = tf.sequential({ name: 'with_dropout', layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 3 })] });
    try {
      assert.equal(stepEngineChooser(log, {})(model), eagerStepEngine);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^INFO Kept the training step eager reason="with_dropout: layer \S+ is a Dropout"$/);
    } finally {
      model.dispose();
    }
  });

  test('on tensorflow, small-cnn: compiled, and says so', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    await tf.setBackend('tensorflow');
    const { lines, log } = capturingLogger();
    const model = createModel('small-cnn', MNIST, 10, 1);
    const step = stepEngineChooser(log, { [COMPILED_STEP_ENV]: 'on' })(model);
    try {
      assert.equal(step.execution, 'graph', 'no compiled step');
      assert.deepEqual(lines, ['INFO Compiled the attack, the loss gradient and the optimizer update into TensorFlow graphs model=small_cnn']);
    } finally {
      step.dispose();
      model.dispose();
    }
  });
});
