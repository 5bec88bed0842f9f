/**
 * Checks of a DATJob spec that the CRD cannot make because they need the
 * dataset: whether the training set holds one full global batch, and whether
 * a built-in dataset's held-out split leaves any training examples. The CRD
 * checks everything else (crds/datjob.yaml); together they keep the promise
 * that a job the API server accepts and this check passes starts training.
 *
 * A problem found here fails the job before any pod is created (condition
 * Failed, reason InvalidSpec): `spec.training` and `spec.workers.replicas` are
 * immutable, so no later reconcile could change the answer.
 */
import { DATASET_DEFAULTS } from '../worker/cli/defaults.js';
import type { DatasetId } from '../common/contract.js';
import { BUILTIN_EXAMPLES, FASHION_MNIST_DEFAULT_TEST_SIZE, MNIST_DEFAULT_TEST_SIZE } from '../worker/data/constants.js';
import type { DATJob } from './api/types.js';

/** What is wrong with a spec: the field to change (below `spec`) and why. */
export interface SpecProblem {
  readonly field: string;
  readonly message: string;
}

/** Held-out examples of the built-ins when `testSize` is unset (worker/data/load-dataset.ts). */
const DEFAULT_TEST_SIZE: Readonly<Record<keyof typeof BUILTIN_EXAMPLES, number>> = {
  mnist: MNIST_DEFAULT_TEST_SIZE,
  'fashion-mnist': FASHION_MNIST_DEFAULT_TEST_SIZE,
};

function isBuiltin(d: DatasetId): d is keyof typeof BUILTIN_EXAMPLES {
  return d in BUILTIN_EXAMPLES;
}

/** The first problem of `job`'s spec that would stop its workers at start, or undefined. */
export function findSpecProblem(job: DATJob): SpecProblem | undefined {
  const t = job.spec.training;
  const replicas = job.spec.workers.replicas;
  let examples: number | undefined;
  let source: string;
  if (isBuiltin(t.dataset)) {
    const total = BUILTIN_EXAMPLES[t.dataset];
    const testSize = t.testSize ?? DEFAULT_TEST_SIZE[t.dataset];
    if (testSize >= total) {
      return {
        field: 'training.testSize',
        message: `training.testSize ${testSize} leaves no training examples: dataset ${t.dataset} has ${total} examples, so at most ${total - 1} can be held out`,
      };
    }
    examples = total - testSize;
    source = `dataset ${t.dataset} has ${examples} training examples (${total} less ${testSize} held out)`;
    if (t.limit !== undefined && t.limit < examples) {
      examples = t.limit;
      source = `training.limit keeps ${examples} training examples`;
    }
  } else {
    // File datasets: only a limit bounds the count before the files are read.
    examples = t.limit;
    source = `training.limit keeps at most ${examples ?? 0} training examples`;
  }
  const batch = t.batchSizePerWorker ?? DATASET_DEFAULTS[t.dataset].batchSize;
  const globalBatch = batch * replicas;
  if (examples !== undefined && examples < globalBatch) {
    return {
      field: 'training.batchSizePerWorker',
      message:
        `training.batchSizePerWorker ${batch}${t.batchSizePerWorker === undefined ? ' (the default)' : ''} x ${replicas} workers is a global batch of ${globalBatch}, ` +
        `but ${source}: not one full step per epoch; lower training.batchSizePerWorker to at most ${Math.floor(examples / replicas)} or use more examples`,
    };
  }
  return undefined;
}
