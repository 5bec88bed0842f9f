/**
 * runTraining against careless reruns and hostile checkpoint directories (in
 * process, tiny real runs): another configuration's checkpoint, a rerun of a
 * finished run, unwritable outputs, a checkpoint that passes its checksum but
 * does not decode.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { listCompleteCheckpoints, stepDirName } from '../../../worker/checkpoint/checkpoint-store.js';
import type { CheckpointPart } from '../../../worker/checkpoint/checkpoint-part.js';
import { encodeTensorFile } from '../../../worker/checkpoint/tensor-file.js';
import { exitCodeFor } from '../../../worker/cli/exit-code.js';
import { EXIT_CODES, type TrainOptions } from '../../../common/contract.js';
import type { EpochRecord } from '../../../worker/train/metrics.js';
import { readTrainCheckpoint, writeTrainCheckpoint, type CheckpointRing } from '../../../worker/train/resume.js';
import { configId } from '../../../worker/train/run-config.js';
import { runTraining, singleProcessContext, type RunResult } from '../../../worker/train/run-training.js';
import { ConfigError } from '../../../common/errors.js';
import { createLogger, silentLogger } from '../../../common/log.js';
import { makeTinyRun, type TrainArgsBuilder } from '../../support/fixtures/train-args-builder.js';

interface Outcome {
  readonly result?: RunResult;
  readonly error?: unknown;
  readonly log: string;
  readonly phases: string[];
}

/** Runs `opts` in this process, capturing the log and the progress phases; never throws. */
async function train(opts: TrainOptions): Promise<Outcome> {
  const lines: string[] = [];
  const phases: string[] = [];
  const ctx = singleProcessContext(createLogger({}, (l) => lines.push(l)), 'wasm', (p) => {
    if (phases.at(-1) !== p.phase) phases.push(p.phase);
  });
  try {
    return { result: await runTraining(opts, ctx), log: lines.join('\n'), phases };
  } catch (error) {
    return { error, log: lines.join('\n'), phases };
  }
}

/** What must agree between runs: the per-epoch numbers without the timings. */
function untimed(history: readonly EpochRecord[]): unknown[] {
  return history.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function assertConfigError(o: Outcome, want: readonly RegExp[]): void {
  assert.ok(o.error instanceof ConfigError, `want a ConfigError, got ${o.error === undefined ? 'success' : String(o.error)}`);
  for (const re of want) assert.match(o.error.message, re);
  assert.equal(exitCodeFor(o.error), EXIT_CODES.badConfig);
}

let root: string;
/** A finished tiny run: its output/ and ckpt/, never modified (cases copy it). */
let done: { dir: string; base: () => TrainArgsBuilder; result: RunResult };

async function copyOfDone(name: string): Promise<string> {
  const dir = join(root, name);
  await cp(done.dir, dir, { recursive: true });
  return dir;
}

before(async () => {
  await selectBackend('wasm', silentLogger);
  root = await mkdtemp(join(tmpdir(), 'dat-careless-'));
  const dir = join(root, 'done');
  const base = (): TrainArgsBuilder => makeTinyRun().output(join(dir, 'output')).checkpointDir(join(dir, 'ckpt'));
  const o = await train(base().opts());
  assert.ok(o.result !== undefined, `the base run failed: ${String(o.error)}`);
  done = { dir, base, result: o.result };
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a resume with another configuration is refused, listing the differences', () => {
  const cases: { name: string; change: (b: TrainArgsBuilder) => TrainArgsBuilder; want: RegExp[] }[] = [
    {
      // A single rank: compression is refused before the checkpoint is read (nothing to all-reduce).
      name: 'attack, eps, lr and weight decay changed',
      change: (b) => b.set('attack', 'fgsm').set('eps', 0.2).set('lr', 0.01).set('weight-decay', 0.5),
      want: [/--attack pgd→fgsm/, /--eps 0\.3→0\.2/, /--lr 0\.001→0\.01/, /--weight-decay \S+→0\.5/, /use a fresh --checkpoint-dir/],
    },
    { name: 'seed changed', change: (b) => b.set('seed', 4), want: [/--seed 3→4/] },
    {
      name: 'epochs changed without --allow-config-change',
      change: (b) => b.epochs(3),
      want: [/--epochs 2→3/, /add --allow-config-change epochs/],
    },
  ];
  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const before = await readdir(join(done.dir, 'ckpt'));
      const o = await train(c.change(done.base()).output(join(root, 'unused')).opts());
      assertConfigError(o, c.want);
      assert.ok(!o.phases.includes('training'), `no step was taken: ${o.phases.join(',')}`);
      assert.deepEqual(await readdir(join(done.dir, 'ckpt')), before, 'the checkpoints are untouched');
    });
  }

  it('--allow-config-change epochs resumes and trains only the added epoch', { timeout: 60_000 }, async () => {
    const dir = await copyOfDone('more-epochs');
    const o = await train(makeTinyRun().output(join(dir, 'output')).checkpointDir(join(dir, 'ckpt')).epochs(3).set('allow-config-change', 'epochs').opts());
    assert.ok(o.result !== undefined, String(o.error));
    assert.match(o.log, /WARN Resumed with changed options --epochs=2→3/);
    assert.match(o.log, /INFO Resumed from checkpoint step=8 epoch=3/);
    assert.equal(o.result.metrics.history.length, 3);
    assert.deepEqual(untimed(o.result.metrics.history.slice(0, 2)), untimed(done.result.metrics.history));
  });

  it('a checkpoint of another ring size is refused and kept, not started over next to and pruned', { timeout: 60_000 }, async () => {
    // The finished 1-rank checkpoint rewritten as what a 2-rank ring with otherwise the same options writes.
    const dir = join(root, 'two-ranks');
    const ckpt = join(dir, 'ckpt');
    const one: CheckpointRing = { rank: 0, worldSize: 1, log: silentLogger };
    const [ref] = (await listCompleteCheckpoints(join(done.dir, 'ckpt'), 1)).complete;
    const saved = await readTrainCheckpoint(ref!, one, []);
    const fingerprint = { ...saved.fingerprint, worldSize: 2 };
    // The saved parts written back as they are (rank 1's file gets the `rank` ones, which a 1-rank run has none of).
    const parts: CheckpointPart[] = [...saved.parts].map(([key, p]) => ({ key, scope: p.scope, save: () => p, load: () => {} }));
    for (const rank of [1, 0]) {
      await writeTrainCheckpoint(ckpt, { rank, worldSize: 2, log: silentLogger }, ref!.step, parts, { fingerprint, configId: configId(fingerprint) });
    }
    const o = await train(makeTinyRun().output(join(dir, 'output')).checkpointDir(ckpt).opts());
    assertConfigError(o, [/ring size 2→1/]);
    assert.deepEqual((await listCompleteCheckpoints(ckpt, 2)).complete.map((c) => c.step), [ref!.step], 'the 2-rank checkpoint is still there');
  });
});

describe('rerunning a finished run', () => {
  it('reports that the run is complete and leaves its outputs byte for byte alone', { timeout: 60_000 }, async () => {
    const dir = await copyOfDone('rerun');
    const files = ['metrics.json', 'model/model.json', 'model/weights.bin'].map((f) => join(dir, 'output', f));
    const hashes = await Promise.all(files.map(sha256));
    const mtimes = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));
    const o = await train(makeTinyRun().output(join(dir, 'output')).checkpointDir(join(dir, 'ckpt')).opts());
    assert.ok(o.result !== undefined, String(o.error));
    assert.match(o.log, /INFO Found the run already complete in its checkpoint step=8 epochs=2/);
    assert.match(o.log, /INFO Left the outputs of the completed run unchanged/);
    assert.ok(!o.phases.includes('training'));
    assert.deepEqual(await Promise.all(files.map(sha256)), hashes);
    assert.deepEqual(await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs)), mtimes);
    assert.deepEqual(o.result.metrics, JSON.parse(await readFile(files[0]!, 'utf8')), 'the result is the recorded one');
  });

  it('into a new --output, writes the same model again', { timeout: 60_000 }, async () => {
    const dir = await copyOfDone('rerun-elsewhere');
    const o = await train(makeTinyRun().output(join(dir, 'output2')).checkpointDir(join(dir, 'ckpt')).opts());
    assert.ok(o.result !== undefined, String(o.error));
    assert.equal(await sha256(join(dir, 'output2', 'model', 'weights.bin')), await sha256(join(dir, 'output', 'model', 'weights.bin')));
    assert.deepEqual(untimed(o.result.metrics.history), untimed(done.result.metrics.history));
  });
});

describe('unusable output and checkpoint paths fail before training, permanently', () => {
  const cases: { name: string; setup: (dir: string) => Promise<Partial<Record<'output' | 'checkpoint-dir', string>>>; want: RegExp }[] = [
    {
      name: '--output below a regular file',
      setup: async (dir) => (await writeFile(join(dir, 'file'), 'x'), { output: join(dir, 'file', 'out') }),
      want: /cannot create output directory \(--output\) .*file\/out: a component of the path is a file, not a directory \(ENOTDIR\)/,
    },
    {
      name: '--output/model is a file',
      setup: async (dir) => (await mkdir(join(dir, 'out')), await writeFile(join(dir, 'out', 'model'), 'x'), { output: join(dir, 'out') }),
      want: /cannot create model directory \(--output\) .*out\/model: a file exists where a directory is needed \(EEXIST\)/,
    },
    {
      name: '--output/metrics.json is a directory',
      setup: async (dir) => (await mkdir(join(dir, 'out', 'metrics.json'), { recursive: true }), { output: join(dir, 'out') }),
      want: /metrics\.json: it is a directory/,
    },
    {
      name: '--checkpoint-dir below a regular file',
      setup: async (dir) => (await writeFile(join(dir, 'file'), 'x'), { output: join(dir, 'out'), 'checkpoint-dir': join(dir, 'file', 'ckpt') }),
      want: /cannot create checkpoint directory \(--checkpoint-dir\) .*ENOTDIR/,
    },
    {
      // sysfs refuses new directories (EPERM, or EROFS where it is mounted read-only).
      name: '--output on a file system that refuses writes',
      setup: async () => ({ output: '/sys/dat-output-test/out' }),
      want: /cannot create output directory \(--output\) \/sys\/dat-output-test\/out: (operation not permitted|read-only file system|permission denied)/,
    },
  ];
  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const dir = await mkdtemp(join(root, 'paths-'));
      const b = makeTinyRun().output(join(dir, 'default-out'));
      for (const [flag, value] of Object.entries(await c.setup(dir))) b.set(flag, value);
      const o = await train(b.opts());
      assertConfigError(o, [c.want]);
      assert.deepEqual(o.phases, ['starting'], 'failed before loading data or training');
    });
  }
});

describe('a checkpoint that passes its checksums but does not decode', () => {
  const cases: { name: string; body: () => Buffer }[] = [
    { name: 'rank 0 holds no run state', body: () => encodeTensorFile(new Map(), { version: 1, rank: 0, globalStep: 8 }) },
    { name: 'rank 0 is not a checkpoint file at all', body: () => Buffer.from('not a dat checkpoint, but checksummed') },
    {
      name: 'rank 0 has fewer weights than its configuration says',
      body: () => encodeTensorFile(new Map([['model/weights', new Float32Array(3)]]), { version: 1, rank: 0, globalStep: 8, chief: { position: { epoch: 2, stepInEpoch: 0, globalStep: 8 }, fingerprint: { weightCount: 9 }, optimizer: { id: 'adam', step: 8, slots: [] }, loop: { history: [] } } }),
    },
  ];
  for (const c of cases) {
    it(`is skipped with a warning and the previous one resumed (${c.name})`, { timeout: 60_000 }, async () => {
      const dir = await copyOfDone(`undecodable-${cases.indexOf(c)}`);
      const stepDir = join(dir, 'ckpt', stepDirName(8));
      const body = c.body();
      await writeFile(join(stepDir, 'rank-0.ckpt'), body);
      const manifestPath = join(stepDir, 'rank-0.manifest.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
      await writeFile(manifestPath, JSON.stringify({ ...manifest, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }));

      const o = await train(makeTinyRun().output(join(dir, 'output')).checkpointDir(join(dir, 'ckpt')).opts());
      assert.ok(o.result !== undefined, String(o.error));
      assert.match(o.log, /WARN Skipped checkpoint step=8 reason="it passes its checksums but cannot be decoded: /);
      assert.match(o.log, /INFO Resumed from checkpoint step=6 /);
      assert.deepEqual(untimed(o.result.metrics.history), untimed(done.result.metrics.history));
    });
  }
});
