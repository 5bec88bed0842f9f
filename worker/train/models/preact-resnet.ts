/**
 * Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual
 * Networks") for 32×32×3 inputs, in two sizes built by one function:
 *
 * - `preact-resnet-18` ({@link PREACT_RESNET_18}): the PreActResNet-18 of the
 *   DAT reference and of the adversarial-training literature it builds on
 *   (Wong et al. 2020, Rice et al. 2020): stem 64, stages 64 / 128 / 256 / 512
 *   with two blocks each. For CIFAR-10: 11,172,170 trainable parameters plus
 *   7,808 BatchNorm running statistics. (Implementations without the final
 *   BN → ReLU before the pooling have 11,171,146.)
 * - `preact-resnet-8` ({@link PREACT_RESNET_8}): a small one sized for CPU
 *   training: stem 32, stages 32 / 64 / 128 with one block each. For
 *   CIFAR-10: 308,266 trainable parameters plus 960 running statistics,
 *   about 48M multiply-adds per image. `preact-resnet` is its deprecated name.
 * - `wide-resnet-34-10` ({@link WIDE_RESNET_34_10}): Zagoruyko & Komodakis's
 *   WideResNet-34-10 (2016) as Madry et al. (2018) and TRADES (Zhang et al.
 *   2019) train it for CIFAR-10, without dropout: stem 16, stages 160 / 320 /
 *   640 with five blocks each. The same pre-activation blocks, with the
 *   projection shortcut where the width changes (the first block, 16 → 160, at
 *   stride 1). For GPUs: about 6.7 GFLOP per image forward.
 *
 * Layout:
 *
 * 1. Stem: conv 3×3, no bias.
 * 2. Stages of pre-activation blocks, strides 1 / 2 / 2 (/ 2) on the first
 *    block of each stage. A block is BN → ReLU → conv 3×3 (stride s) → BN →
 *    ReLU → conv 3×3, added to the shortcut. Where the shape changes, the
 *    shortcut is a 1×1 conv (stride s) on the pre-activated input, as in the
 *    reference PreActBlock; elsewhere it is the identity.
 * 3. Head: BN → ReLU → global average pooling → dense (logits).
 *
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

/** A network's shape: the stem width and the stages. */
export interface PreActConfig {
  readonly stemFilters: number;
  readonly stages: readonly PreActStage[];
}

/** preact-resnet-8: one block per stage, sized for CPU training. */
export const PREACT_RESNET_8: PreActConfig = {
  stemFilters: 32,
  stages: [
    { filters: 32, stride: 1, blocks: 1 },
    { filters: 64, stride: 2, blocks: 1 },
    { filters: 128, stride: 2, blocks: 1 },
  ],
};

/** preact-resnet-18: He et al.'s PreActResNet-18, as in the DAT reference. */
export const PREACT_RESNET_18: PreActConfig = {
  stemFilters: 64,
  stages: [
    { filters: 64, stride: 1, blocks: 2 },
    { filters: 128, stride: 2, blocks: 2 },
    { filters: 256, stride: 2, blocks: 2 },
    { filters: 512, stride: 2, blocks: 2 },
  ],
};

/** wide-resnet-34-10: depth 34 = 6·5 + 4, widening factor 10. */
export const WIDE_RESNET_34_10: PreActConfig = {
  stemFilters: 16,
  stages: [
    { filters: 160, stride: 1, blocks: 5 },
    { filters: 320, stride: 2, blocks: 5 },
    { filters: 640, stride: 2, blocks: 5 },
  ],
};

/** The stages of preact-resnet-8 (the reduced test variants start from these). */
export const PREACT_RESNET_STAGES: readonly PreActStage[] = PREACT_RESNET_8.stages;

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

/**
 * Builds a pre-activation ResNet; outputs logits (no softmax). `stages`
 * overrides the stages of `config` (reduced test variants).
 */
export function buildPreActResNet(
  inputShape: readonly [number, number, number],
  numClasses: number,
  seed: number,
  stages: readonly PreActStage[] = PREACT_RESNET_8.stages,
  config: PreActConfig = PREACT_RESNET_8,
): tf.LayersModel {
  const init = new SeededInit(seed);
  const input = tf.input({ shape: [...inputShape] });
  let x = conv(init, config.stemFilters, 3, 1).apply(input) as tf.SymbolicTensor;
  let inFilters = config.stemFilters;
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

/** preact-resnet-8 (see the module comment). */
export function buildPreActResNet8(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  return buildPreActResNet(inputShape, numClasses, seed, PREACT_RESNET_8.stages, PREACT_RESNET_8);
}

/** preact-resnet-18 (see the module comment). */
export function buildPreActResNet18(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  return buildPreActResNet(inputShape, numClasses, seed, PREACT_RESNET_18.stages, PREACT_RESNET_18);
}

/** wide-resnet-34-10 (see the module comment). */
export function buildWideResNet34x10(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  return buildPreActResNet(inputShape, numClasses, seed, WIDE_RESNET_34_10.stages, WIDE_RESNET_34_10);
}
