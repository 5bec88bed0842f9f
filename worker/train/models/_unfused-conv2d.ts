/**
 * A linear Conv2D layer that runs a plain `tf.conv2d` instead of tfjs's fused
 * conv2d.
 *
 * Why: tfjs-layers runs every conv without a ReLU (activation `linear`)
 * through `tf.fused.conv2d`, whose gradient eagerly computes the filter
 * gradient too, even under `tf.grad(x)`. An attack only needs ∂loss/∂x, so in
 * a pre-activation ResNet (every conv is linear; BatchNorm follows) a third of
 * each attack step went into filter gradients nobody reads, and backends
 * without a `Conv2DBackpropFilter` kernel could not attack at all. A plain
 * `tf.conv2d` lets the tape compute only the gradients asked for.
 *
 * The class subclasses tfjs's own Conv2D (taken from an instance, as tfjs does
 * not export it) and only replaces `call`, so weights, config and the
 * serialized class name stay `Conv2D`: a saved model loads with a stock
 * `tf.loadLayersModel` anywhere, as an ordinary Conv2D computing the same
 * function.
 */
import * as tf from '@tensorflow/tfjs';

/** Arguments of `tf.layers.conv2d`. */
export type Conv2DArgs = Parameters<typeof tf.layers.conv2d>[0];
type Kwargs = Parameters<tf.layers.Layer['call']>[1];

// A throwaway instance gives us the Conv2D class; it holds no weights.
const Conv2DBase = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as new (args: Conv2DArgs) => tf.layers.Layer;

/** The Conv2D fields `call` reads (protected in tfjs, so reached through a cast). */
interface Conv2DInternals {
  readonly kernel: { read(): tf.Tensor };
  readonly bias: { read(): tf.Tensor } | null;
  readonly strides: [number, number];
  readonly padding: 'same' | 'valid';
}

/** A linear, channels-last, undilated Conv2D computed with plain `tf.conv2d`. */
export class UnfusedConv2D extends Conv2DBase {
  constructor(args: Conv2DArgs) {
    const activation = args.activation ?? 'linear';
    if (activation !== 'linear') throw new Error(`UnfusedConv2D supports only a linear activation, got ${String(activation)}`);
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast') throw new Error('UnfusedConv2D supports only channelsLast');
    const dil = args.dilationRate;
    if (dil !== undefined && (Array.isArray(dil) ? dil.some((d) => d !== 1) : dil !== 1)) throw new Error('UnfusedConv2D supports only a dilation rate of 1');
    if (args.padding === 'causal') throw new Error('UnfusedConv2D does not support causal padding');
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const self = this as unknown as Conv2DInternals;
      const y = tf.conv2d(x, self.kernel.read() as tf.Tensor4D, self.strides, self.padding);
      return self.bias === null ? y : tf.add(y, self.bias.read());
    });
  }
}
