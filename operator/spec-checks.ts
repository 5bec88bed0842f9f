/**
 * Checks of a DATJob spec that the CRD cannot make because they need the
 * dataset: whether the training set holds one full global batch (with an
 * unlabelled pool: its labelled share, and the pool share of the hidden
 * examples; docs/unlabeled-data.md), and whether
 * a built-in dataset's held-out split leaves any training examples. The CRD
 * checks everything else (crds/datjob.yaml); together they keep the promise
 * that a job the API server accepts and this check passes starts training.
 *
 * A problem found here fails the job before any pod is created (condition
 * Failed, reason InvalidSpec): `spec.training` and `spec.workers.replicas` are
 * immutable, so no later reconcile could change the answer.
 */
import { DATASET_DEFAULTS, FIXED_DEFAULTS } from '../worker/cli/defaults.js';
import { batchShares } from '../worker/train/unlabeled/mixed-batch.js';
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
  if (t.unlabeledData !== undefined || (t.unlabeledFraction ?? 0) > 0) return findPoolProblem(job, batch, examples, source);
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

/**
 * With an unlabelled pool the worker splits each batch (worker/train/unlabeled/mixed-batch.ts):
 * both shares must be at least 1, the labelled examples must fill one global
 * labelled share, and without `unlabeledData` the hidden examples one global pool share.
 */
function findPoolProblem(job: DATJob, batch: number, examples: number | undefined, source: string): SpecProblem | undefined {
  const t = job.spec.training;
  const replicas = job.spec.workers.replicas;
  const ratio = t.unlabeledRatio ?? FIXED_DEFAULTS.unlabeledRatio;
  const shares = batchShares(batch, ratio);
  if (shares.labeled < 1 || shares.unlabeled < 1) {
    return {
      field: 'training.unlabeledRatio',
      message: `training.unlabeledRatio ${ratio} of training.batchSizePerWorker ${batch} leaves ${shares.labeled} labelled and ${shares.unlabeled} unlabelled examples per batch; both need at least 1`,
    };
  }
  if (examples === undefined) return undefined;
  const hidden = Math.round((t.unlabeledFraction ?? 0) * examples);
  const labelled = examples - hidden;
  if (labelled < shares.labeled * replicas) {
    return {
      field: 'training.batchSizePerWorker',
      message:
        `the labelled share of each batch, ${shares.labeled} of training.batchSizePerWorker ${batch} x ${replicas} workers, is ${shares.labeled * replicas} examples, ` +
        `but ${source} and ${labelled} keep their labels: not one full step per epoch; lower training.batchSizePerWorker or training.unlabeledFraction, or use more examples`,
    };
  }
  if (t.unlabeledData === undefined && hidden < shares.unlabeled * replicas) {
    return {
      field: 'training.unlabeledFraction',
      message: `training.unlabeledFraction ${t.unlabeledFraction} hides ${hidden} examples, fewer than the global unlabelled share of ${shares.unlabeled} x ${replicas} workers; raise it or lower training.unlabeledRatio`,
    };
  }
  return undefined;
}
