/** A graph-builder fixture shared by the graph tests. */
import type { PlanLayer } from '../../../../../worker/backend/native/graph/sequential-plan.js';
import type { GraphModel } from '../../../../../worker/backend/native/graph/step-graphs.js';

// small-cnn's plan (see sequential-plan.test.ts): a 1-channel first conv, a 16-channel second.
export const SMALL_CNN_GRAPH_MODEL: GraphModel = {
  inputShape: [28, 28, 1],
  numWeights: 8,
  layers: [
    { kind: 'conv2d', inShape: [28, 28, 1], kernelSize: [4, 4], strides: [2, 2], padding: 'SAME', activation: 'relu', kernel: 0, bias: 1 },
    { kind: 'conv2d', inShape: [14, 14, 16], kernelSize: [4, 4], strides: [2, 2], padding: 'SAME', activation: 'relu', kernel: 2, bias: 3 },
    { kind: 'flatten', size: 1568 },
    { kind: 'dense', activation: 'relu', kernel: 4, bias: 5 },
    { kind: 'dense', activation: 'linear', kernel: 6, bias: 7 },
  ] satisfies PlanLayer[],
};
