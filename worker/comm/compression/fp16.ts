/**
 * `fp16`: the bucket travels the ring as binary16 (half the bytes of fp32);
 * partial sums are accumulated in float32 at each hop. A {@link Compressor}
 * around {@link createAllreduceHook}, as horovod's FP16Compressor.
 */
import { createAllreduceHook, withCompression, type CommHook, type Compressor } from '../hooks.js';

/**
 * Asks for the f16 wire format; the payload stays float32 because the rounding
 * happens where the ring encodes each hop (rounding here too would round twice).
 */
export const fp16Compressor: Compressor<null> = {
  name: 'fp16',
  compress: (x) => ({ payload: x, ctx: null, wire: 'f16' }),
  decompress: (payload) => payload,
};

/** A hook for the mean gradient with fp16 traffic (its own result buffers, like {@link createAllreduceHook}). */
export function createFp16Hook(): CommHook {
  return withCompression(createAllreduceHook(), fp16Compressor);
}
