/**
 * The four architectures the worker trains, built here with tf.layers and
 * seeded initialisers so tests can compare one gradient step across backends.
 * (The training engine has its own builders; these exist so the backend's
 * kernel coverage is tested independently of them.)
 */
import * as tf from '@tensorflow/tfjs';

let seed = 0;
/** A fresh seeded Glorot initialiser (weights identical on every run). */
function init(): ReturnType<typeof tf.initializers.glorotUniform> {
  seed += 1;
  return tf.initializers.glorotUniform({ seed });
}

/** Resets initialiser seeds so each builder produces the same weights every call. */
function reset(): void {
  seed = 0;
}

/** MLP: flatten, dense 64 + ReLU, dense 10. */
export function buildMlp(): tf.LayersModel {
  reset();
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ],
  });
}

/** "Fast is better than free" MNIST CNN. */
export function buildSmallCnn(): tf.LayersModel {
  reset();
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 100, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ],
  });
}

/** Madry et al. MNIST CNN (dense layer narrowed from 1024 to keep the cpu reference fast). */
export function buildMadryCnn(): tf.LayersModel {
  reset();
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ],
  });
}

/** A small pre-activation ResNet for 32x32x3: BN-ReLU-conv blocks, stride-2 stages with 1x1 shortcuts, global average pooling. */
export function buildPreactResnet(): tf.LayersModel {
  reset();
  const input = tf.input({ shape: [32, 32, 3] });
  const conv = (filters: number, kernelSize: number, strides: number): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() });
  const bnRelu = (t: tf.SymbolicTensor): tf.SymbolicTensor =>
    tf.layers.activation({ activation: 'relu' }).apply(tf.layers.batchNormalization().apply(t)) as tf.SymbolicTensor;
  const block = (x: tf.SymbolicTensor, filters: number, strides: number): tf.SymbolicTensor => {
    const pre = bnRelu(x);
    const shortcut = strides !== 1 || x.shape[3] !== filters ? (conv(filters, 1, strides).apply(pre) as tf.SymbolicTensor) : x;
    const h = conv(filters, 3, strides).apply(pre) as tf.SymbolicTensor;
    const out = conv(filters, 3, 1).apply(bnRelu(h)) as tf.SymbolicTensor;
    return tf.layers.add().apply([out, shortcut]) as tf.SymbolicTensor;
  };
  let x = conv(8, 3, 1).apply(input) as tf.SymbolicTensor;
  x = block(x, 8, 1);
  x = block(x, 16, 2);
  x = block(x, 32, 2);
  x = tf.layers.globalAveragePooling2d({}).apply(bnRelu(x)) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}
