/**
 * Seeded weight initializers shared by the model builders. Every layer gets
 * its own sub-seed, so the same model seed always gives the same weights and
 * two layers never share a random stream.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../../util/rng.js';

/**
 * A non-zero seed derived from `seed` and `parts`. tfjs treats a seed of 0
 * as "unseeded" (it draws from Math.random), so 0 must never reach it.
 */
export function nonZeroSeed(seed: number, ...parts: number[]): number {
  return deriveSeed(seed, ...parts) || 1;
}

/** A layer initializer (tfjs does not export the class name from its public namespace). */
export type Initializer = ReturnType<typeof tf.initializers.heNormal>;

/** Hands out a fresh seeded initializer per layer, in construction order. */
export class SeededInit {
  private next = 0;

  constructor(private readonly seed: number) {}

  /** He-normal (fan-in), for kernels followed by a ReLU. */
  he(): Initializer {
    return tf.initializers.heNormal({ seed: nonZeroSeed(this.seed, this.next++) });
  }

  /** Glorot-uniform, for the logits layer (no ReLU after it). */
  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: nonZeroSeed(this.seed, this.next++) });
  }
}
