/**
 * Optimizers with serializable state. They update `tf.Variable`s directly
 * from gradients that were averaged over the ring beforehand.
 */
import type { OptimizerId } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import { AdamOptimizer } from './adam.js';
import { LambOptimizer } from './lamb.js';
import { LarsOptimizer } from './lars.js';
import { SgdOptimizer } from './sgd.js';
import type { Optimizer, OptimizerHyper } from './types.js';

export type { Optimizer, OptimizerHyper, OptimizerSlot, OptimizerState } from './types.js';
export { AdamOptimizer, LambOptimizer, LarsOptimizer, SgdOptimizer };
export { LAMB_WEIGHT_NORM_CAP } from './lamb.js';
export { LARS_TRUST_COEFFICIENT } from './lars.js';

/**
 * Builds optimizer `id`; throws a ConfigError naming the optimizer and the
 * bad hyperparameter. `lamb` is DAT's LALR (no bias correction, trust ratio
 * numerator clamped to 10); `lars` uses η = 0.001 then momentum SGD; `sgd` is
 * PyTorch momentum SGD with weight decay; `adam` is standard Adam.
 */
export function createOptimizer(id: OptimizerId, hyper: OptimizerHyper): Optimizer {
  switch (id) {
    case 'lamb':
      return new LambOptimizer(hyper);
    case 'lars':
      return new LarsOptimizer(hyper);
    case 'sgd':
      return new SgdOptimizer(hyper);
    case 'adam':
      return new AdamOptimizer(hyper);
    default: {
      const unknown: never = id;
      throw new ConfigError(`unknown optimizer ${String(unknown)}`);
    }
  }
}
