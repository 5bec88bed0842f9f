/**
 * The operator's pre-flight check (operator/spec-checks.ts), and the proof
 * that the fixture's doomed specs are doomed: the worker's own parser, data
 * loader and step arithmetic refuse each one, while the boundary specs pass
 * all three (test/support/fixtures/invalid-datjobs.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DATJob } from '../../operator/api/types.js';
import { MOUNTS } from '../../operator/constants.js';
import { buildTrainArgs } from '../../operator/desired/train-args.js';
import { findSpecProblem } from '../../operator/spec-checks.js';
import { parseTrainArgs } from '../../worker/cli/parse-args.js';
import { WORKER_ENV, type TrainOptions } from '../../common/contract.js';
import { loadDataset } from '../../worker/data/load-dataset.js';
import { stepsPerEpoch } from '../../worker/data/shard.js';
import { prepareUnlabeled } from '../../worker/train/unlabeled/unlabeled-run.js';
import { ConfigError, DatError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';
import { BOUNDARY_CASES, DOOMED_CASES } from '../support/fixtures/invalid-datjobs.js';

/** What the worker of rank 0 would parse from the pod the operator renders for `job`. */
function workerOptions(job: DATJob): TrainOptions {
  const { training, checkpoint, evaluation } = job.spec;
  const paths = { checkpointDir: MOUNTS.checkpoint, outputDir: MOUNTS.output, dataDir: training.dataVolume === undefined ? undefined : MOUNTS.data };
  const args = buildTrainArgs(training, checkpoint, paths, evaluation);
  return parseTrainArgs(args, { [WORKER_ENV.worldSize]: String(job.spec.workers.replicas) });
}

/** Full global batches per epoch as the worker computes them, on the real dataset (with an unlabelled pool: its labelled share). */
async function workerStepsPerEpoch(opts: TrainOptions, worldSize: number): Promise<number> {
  const ds = await loadDataset({ dataset: opts.dataset, limit: opts.limit, testSize: opts.testSize, seed: opts.seed, log: silentLogger });
  const { labeled, unlabeled } = await prepareUnlabeled(ds, opts, { worldSize, log: silentLogger });
  return stepsPerEpoch(labeled.n, worldSize, unlabeled?.shares.labeled ?? opts.batchSize);
}

test('findSpecProblem: global batch against the training examples, and the held-out split', () => {
  const cases: { name: string; job: DATJob; want?: RegExp }[] = [
    { name: 'defaults fit', job: makeDATJob('j').obj() },
    { name: 'exactly one global batch', job: makeDATJob('j').training({ batchSizePerWorker: 4000 }).obj() },
    { name: 'one example short', job: makeDATJob('j').training({ batchSizePerWorker: 4001 }).obj(), want: /global batch of 8002, but dataset mnist has 8000 training examples .*at most 4000/ },
    { name: 'fashion-mnist holds out 10,000 of 70,000', job: makeDATJob('j').training({ dataset: 'fashion-mnist', batchSizePerWorker: 30_001 }).obj(), want: /dataset fashion-mnist has 60000 training examples \(70000 less 10000 held out\)/ },
    { name: 'a smaller testSize leaves more', job: makeDATJob('j').training({ testSize: 1000, batchSizePerWorker: 4500 }).obj() },
    { name: 'the default batch against a limit', job: makeDATJob('j').workers(4).training({ limit: 500 }).obj(), want: /256 \(the default\) x 4 workers is a global batch of 1024, but training\.limit keeps 500/ },
    { name: 'testSize of the whole dataset', job: makeDATJob('j').training({ testSize: 10_000 }).obj(), want: /training\.testSize 10000 leaves no training examples/ },
    { name: 'file dataset without limit: unknown until read', job: makeDATJob('j').training({ dataset: 'cifar10', dataVolume: { claimName: 'c' }, batchSizePerWorker: 65_536 }).obj() },
    { name: 'file dataset with a limit', job: makeDATJob('j').training({ dataset: 'mnist-idx', dataVolume: { claimName: 'c' }, limit: 100 }).obj(), want: /training\.limit keeps at most 100 training examples/ },
  ];
  for (const c of cases) {
    const got = findSpecProblem(c.job);
    if (c.want === undefined) assert.equal(got, undefined, `${c.name}: ${got?.message}`);
    else assert.match(got?.message ?? 'no problem', c.want, c.name);
  }
});

test('findSpecProblem with an unlabelled pool agrees with the worker: it refuses exactly what the worker cannot start', { timeout: 60_000 }, async () => {
  const cases: { name: string; job: DATJob; want?: RegExp }[] = [
    { name: 'a pool: the labelled share fits', job: makeDATJob('j').workers(2).training({ limit: 256, unlabeledData: 'mnist', batchSizePerWorker: 256 }).obj() },
    { name: 'a pool: the labelled share does not fit', job: makeDATJob('j').workers(2).training({ limit: 255, unlabeledData: 'mnist', batchSizePerWorker: 256 }).obj(), want: /labelled share of each batch, 128 of training\.batchSizePerWorker 256 x 2 workers, is 256 examples, but training\.limit keeps 255 training examples and 255 keep their labels/ },
    { name: 'a pool: a ratio that leaves no labelled example', job: makeDATJob('j').training({ unlabeledData: 'mnist', unlabeledRatio: 0.9, batchSizePerWorker: 2 }).obj(), want: /unlabeledRatio 0\.9 of training\.batchSizePerWorker 2 leaves 0 labelled and 2 unlabelled/ },
    { name: 'unlabeledFraction: the hidden part counts out of the labelled one', job: makeDATJob('j').workers(1).training({ limit: 4, unlabeledFraction: 0.75, batchSizePerWorker: 4 }).obj(), want: /1 keep their labels/ },
    { name: 'unlabeledFraction: too few hidden examples for the pool share', job: makeDATJob('j').workers(1).training({ limit: 10, unlabeledFraction: 0.1, unlabeledRatio: 0.5, batchSizePerWorker: 4 }).obj(), want: /unlabeledFraction 0\.1 hides 1 examples, fewer than the global unlabelled share of 2 x 1/ },
  ];
  for (const c of cases) {
    const got = findSpecProblem(c.job);
    if (c.want === undefined) assert.equal(got, undefined, `${c.name}: ${got?.message}`);
    else assert.match(got?.message ?? 'no problem', c.want, c.name);
    const opts = workerOptions(c.job);
    const steps = await workerStepsPerEpoch(opts, c.job.spec.workers.replicas).catch((err: unknown) => {
      assert.ok(err instanceof ConfigError, `${c.name}: ${String(err)}`);
      return 0;
    });
    assert.equal(steps > 0, c.want === undefined, `${c.name}: the worker trains ${steps} steps per epoch`);
  }
});

test('the doomed specs are doomed: the worker refuses each one where the fixture says', async () => {
  const emptyDataDir = await mkdtemp(join(tmpdir(), 'dat-empty-data-'));
  try {
    for (const c of DOOMED_CASES) {
      switch (c.worker) {
        case 'parse':
          assert.throws(() => workerOptions(c.job), ConfigError, c.name);
          break;
        case 'dataset-size': {
          const opts = workerOptions(c.job);
          const steps = await workerStepsPerEpoch(opts, c.job.spec.workers.replicas).catch((err: unknown) => {
            assert.ok(err instanceof ConfigError, `${c.name}: ${String(err)}`);
            return 0;
          });
          assert.equal(steps, 0, `${c.name}: the worker would train ${steps} steps per epoch`);
          assert.notEqual(findSpecProblem(c.job), undefined, `${c.name}: the operator's check misses it`);
          break;
        }
        case 'data-files': {
          // An emptyDir starts empty: the worker finds no files in its data dir.
          const opts = { ...workerOptions(c.job), dataDir: emptyDataDir };
          await assert.rejects(loadDataset({ dataset: opts.dataset, dataDir: opts.dataDir, seed: 1, log: silentLogger }), DatError, c.name);
          break;
        }
      }
      if (c.caughtBy === 'operator') for (const re of c.want) assert.match(findSpecProblem(c.job)?.message ?? '', re, c.name);
    }
  } finally {
    await rm(emptyDataDir, { recursive: true, force: true });
  }
});

test('the boundary specs start: the worker parses them and the operator finds no problem', async () => {
  for (const c of BOUNDARY_CASES) {
    const opts = workerOptions(c.job);
    assert.equal(findSpecProblem(c.job), undefined, c.name);
    if (opts.dataset === 'mnist' && (opts.batchSize * c.job.spec.workers.replicas > 1000 || opts.unlabeledFraction > 0 || opts.unlabeledData !== undefined)) {
      assert.ok((await workerStepsPerEpoch(opts, c.job.spec.workers.replicas)) >= 1, c.name);
    }
  }
});
