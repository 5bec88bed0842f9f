/** Public API of the data layer. */
export type { Dataset, Split } from './types.js';
export { loadDataset, type LoadDatasetOptions } from './load-dataset.js';
export { stepsPerEpoch, epochOrder, batchIndices } from './shard.js';
export { gatherBatch, concatSplits, subsetSplit, exampleSize, type Batch } from './split-ops.js';
export { splitUnlabeled, withPseudoLabels, type LabeledUnlabeled } from './unlabeled.js';
export { loadUnlabeledPool, type UnlabeledPoolOptions } from './unlabeled-source.js';
export { UNLABELED, CACHE_DIR_ENV } from './constants.js';
