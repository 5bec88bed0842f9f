/**
 * `preact-resnet`: a small pre-activation ResNet (He et al. 2016, "Identity
 * Mappings in Deep Residual Networks") for 32×32×3 inputs, sized for CPU
 * training rather than the DAT reference's PreActResNet18 (11M parameters).
 *
 * Layout ("PreActResNet-8", {@link PREACT_RESNET_STAGES}):
 *
 * 1. Stem: conv 3×3, 32 filters, no bias.
 * 2. Three stages of one pre-activation block each, 32 / 64 / 128 filters,
 *    strides 1 / 2 / 2 (32×32 → 16×16 → 8×8). A block is
 *    BN → ReLU → conv 3×3 (stride s) → BN → ReLU → conv 3×3, added to the
 *    shortcut. Where the shape changes, the shortcut is a 1×1 conv (stride s)
 *    on the pre-activated input, as in the reference PreActBlock.
 * 3. Head: BN → ReLU → global average pooling → dense (logits).
 *
 * For CIFAR-10: 308,266 trainable parameters plus 960 BatchNorm running
 * statistics (309,226 weights in all), about 48M multiply-adds per image.
 * BatchNorm follows PyTorch's defaults (epsilon 1e-5, running-average
 * momentum 0.1, i.e. Keras momentum 0.9). The convs are `UnfusedConv2D`
 * (saved as plain Conv2D) so attacks skip the filter gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './_init.js';
import { UnfusedConv2D } from './_unfused-conv2d.js';

/** One stage of blocks. */
export interface PreActStage {
  readonly filters: number;
  /** Stride of the stage's first block. */
  readonly stride: number;
  readonly blocks: number;
}

/** Stem width. */
export const PREACT_STEM_FILTERS = 32;

/** The stages; each adds one or more residual blocks. */
export const PREACT_RESNET_STAGES: readonly PreActStage[] = [
  { filters: 32, stride: 1, blocks: 1 },
  { filters: 64, stride: 2, blocks: 1 },
  { filters: 128, stride: 2, blocks: 1 },
];

// PyTorch BatchNorm2d defaults: running = 0.9 * running + 0.1 * batch, eps 1e-5.
const BN_MOMENTUM = 0.9;
const BN_EPSILON = 1e-5;

function bnRelu(x: tf.SymbolicTensor): tf.SymbolicTensor {
  const bn = tf.layers.batchNormalization({ momentum: BN_MOMENTUM, epsilon: BN_EPSILON }).apply(x) as tf.SymbolicTensor;
  return tf.layers.reLU().apply(bn) as tf.SymbolicTensor;
}

// Every conv here is linear (BatchNorm follows), so it is built unfused: see _unfused-conv2d.ts.
function conv(init: SeededInit, filters: number, kernelSize: number, strides: number): tf.layers.Layer {
  return new UnfusedConv2D({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init.he() });
}

/** One pre-activation block; `inFilters` decides whether the shortcut needs a projection. */
function preActBlock(init: SeededInit, x: tf.SymbolicTensor, inFilters: number, filters: number, stride: number): tf.SymbolicTensor {
  const pre = bnRelu(x);
  const shortcut = stride !== 1 || inFilters !== filters ? (conv(init, filters, 1, stride).apply(pre) as tf.SymbolicTensor) : x;
  const h1 = conv(init, filters, 3, stride).apply(pre) as tf.SymbolicTensor;
  const h2 = conv(init, filters, 3, 1).apply(bnRelu(h1)) as tf.SymbolicTensor;
  return tf.layers.add().apply([h2, shortcut]) as tf.SymbolicTensor;
}

/** Builds the small pre-activation ResNet; outputs logits (no softmax). */
export function buildPreActResNet(
  inputShape: readonly [number, number, number],
  numClasses: number,
  seed: number,
  stages: readonly PreActStage[] = PREACT_RESNET_STAGES,
): tf.LayersModel {
  const init = new SeededInit(seed);
  const input = tf.input({ shape: [...inputShape] });
  let x = conv(init, PREACT_STEM_FILTERS, 3, 1).apply(input) as tf.SymbolicTensor;
  let inFilters = PREACT_STEM_FILTERS;
  for (const stage of stages) {
    for (let b = 0; b < stage.blocks; b++) {
      x = preActBlock(init, x, inFilters, stage.filters, b === 0 ? stage.stride : 1);
      inFilters = stage.filters;
    }
  }
  const pooled = tf.layers.globalAveragePooling2d({}).apply(bnRelu(x)) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer: init.glorot() }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'preact_resnet' });
}
