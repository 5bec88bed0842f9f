/**
 * Wires the native backend's compiled step (native/graph/) into training:
 * the `chooseStepEngine` hook of a RunContext, which picks, once per run, the
 * step engine (TensorFlow graphs or eager) and logs which, and why.
 *
 * `DAT_COMPILED_STEP=off` forces the eager step, e.g. to compare the two or
 * to rule the graphs out while debugging.
 */
import type * as tf from '@tensorflow/tfjs';
import { compiledStepEngine } from '../train/compiled-step-engine.js';
import { eagerStepEngine, type StepEngine } from '../train/step-engine.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { COMPILED_STEP_ENV, createNativeCompiledStep } from './native/graph/native-compiled-step.js';

export { COMPILED_STEP_ENV };

const ON = new Set(['', '1', 'on', 'true']);
const OFF = new Set(['0', 'off', 'false']);

/** Whether `env` allows the compiled step; throws a ConfigError on a value it does not know. */
export function compiledStepEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env[COMPILED_STEP_ENV] ?? '').trim().toLowerCase();
  if (ON.has(raw)) return true;
  if (OFF.has(raw)) return false;
  throw new ConfigError(`${COMPILED_STEP_ENV}=${env[COMPILED_STEP_ENV]}: expected on or off`);
}

/** A RunContext `chooseStepEngine` for the current backend; see the module comment. */
export function stepEngineChooser(log: Logger, env: NodeJS.ProcessEnv = process.env): (model: tf.LayersModel) => StepEngine {
  const enabled = compiledStepEnabled(env);
  return (model) => {
    if (!enabled) {
      log.info('Kept the training step eager', { reason: `${COMPILED_STEP_ENV}=off` });
      return eagerStepEngine;
    }
    const result = createNativeCompiledStep(model);
    if (!result.ok) {
      log.info('Kept the training step eager', { reason: result.reason });
      return eagerStepEngine;
    }
    log.info('Compiled the attack, the loss gradient and the optimizer update into TensorFlow graphs', { model: model.name });
    return compiledStepEngine(result.step);
  };
}
