import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTrainOptions } from '../../../worker/cli/defaults.js';
import type { TrainOptions } from '../../../common/contract.js';
import { buildRunFingerprint, checkResumeConfig, configDifferences, configId, type RunFingerprint } from '../../../worker/train/run-config.js';
import { ConfigError } from '../../../common/errors.js';

const DERIVED = { worldSize: 2, trainExamples: 512, weightCount: 100 };

function fp(given: Partial<TrainOptions> = {}, derived: Partial<typeof DERIVED> = {}): RunFingerprint {
  return buildRunFingerprint(resolveTrainOptions({ epochs: 4, milestones: [], warmupEpochs: 0, epsWarmupEpochs: 0, ...given }), { ...DERIVED, ...derived });
}

describe('buildRunFingerprint', () => {
  it('records every option that shapes training and none that only places or shows it', () => {
    const got = fp({ output: '/out', checkpointDir: '/ckpt', progress: 'json', backend: 'cpu', workers: 3, collectiveTimeoutMs: 5, checkpointEvery: 7, dataDir: '/d', allowConfigChange: ['epochs'], finalEval: ['autoattack'], finalEvalExamples: 5, finalEvalEps: 0.1 });
    for (const key of ['output', 'checkpointDir', 'progress', 'backend', 'workers', 'collectiveTimeoutMs', 'checkpointEvery', 'dataDir', 'allowConfigChange', 'finalEval', 'finalEvalExamples', 'finalEvalEps']) {
      assert.ok(!(key in got), `${key} is not recorded`);
    }
    for (const key of ['attack', 'eps', 'lr', 'compression', 'compressionWarmupSteps', 'seed', 'batchSize', 'epochs', 'worldSize', 'trainExamples', 'weightCount']) {
      assert.ok(key in got, `${key} is recorded`);
    }
  });
});

describe('configDifferences', () => {
  const cases: { name: string; current: RunFingerprint; want: string[] }[] = [
    { name: 'same configuration', current: fp(), want: [] },
    { name: 'where things go does not count', current: fp({ output: '/elsewhere', checkpointEvery: 3, backend: 'cpu' }), want: [] },
    // The final evaluation runs after the last step: a resume may ask for another, and checkpoints written before the option still resume.
    { name: 'the final evaluation does not count', current: fp({ finalEval: ['pgd'], finalEvalExamples: 0, finalEvalEps: 0 }), want: [] },
    { name: 'attack and eps', current: fp({ attack: 'fgsm', eps: 0.1 }), want: ['--attack pgd→fgsm', '--eps 0.3→0.1', '--attack-step-size 0.075→0.1'] },
    { name: 'loss', current: fp({ loss: 'adv-clean' }), want: ['--loss adv→adv-clean'] },
    { name: 'ring size', current: fp({}, { worldSize: 1 }), want: ['ring size 2→1'] },
    { name: 'milestones', current: fp({ milestones: [2, 3] }), want: ['--milestones []→[2,3]'] },
    { name: 'augmentation', current: fp({ augment: 'crop-flip' }), want: ['--augment none→crop-flip'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(configDifferences(fp(), c.current).map((d) => `${d.name} ${d.saved}→${d.current}`), c.want));
  }
});

/** `fp()` as a worker from before `--augment` wrote it. */
function withoutAugment(f: RunFingerprint): RunFingerprint {
  const { augment: _augment, ...rest } = f as unknown as Record<string, unknown>;
  return rest as unknown as RunFingerprint;
}

describe('options recorded only by newer workers', () => {
  it('a checkpoint without augment trained without it: a run without augmentation resumes from it', () => {
    assert.deepEqual(checkResumeConfig(withoutAugment(fp()), fp({ augment: 'none' }), [], 'step-00000008 in /c'), []);
  });
  it('a run with augmentation does not resume from it', () => {
    assert.throws(() => checkResumeConfig(withoutAugment(fp()), fp({ augment: 'crop-flip' }), [], 'step-00000008 in /c'), /--augment none→crop-flip/);
  });
  it('a run without augmentation keeps the configuration id it had before the option existed', () => {
    assert.equal(configId(fp({ augment: 'none' })), configId(withoutAugment(fp())));
    assert.notEqual(configId(fp({ augment: 'crop-flip' })), configId(withoutAugment(fp())));
  });
});

describe('a checkpoint from before --unlabeled-ratio', () => {
  const older = (): RunFingerprint => {
    const { unlabeledRatio: _r, ...rest } = fp() as unknown as Record<string, unknown>;
    return rest as unknown as RunFingerprint;
  };
  it('resumes a run at the default ratio 0.5, with the same configuration id', () => {
    assert.deepEqual(checkResumeConfig(older(), fp(), [], 'step-00000008 in /c'), []);
    assert.equal(configId(fp()), configId(older()));
  });
  it('refuses another ratio', () => {
    assert.throws(() => checkResumeConfig(older(), fp({ unlabeledRatio: 0.3 }), [], 'step-00000008 in /c'), /--unlabeled-ratio 0\.5→0\.3/);
  });
});

describe('configId', () => {
  const cases: { name: string; other: RunFingerprint; same: boolean }[] = [
    { name: 'more epochs and another evaluation keep it', other: fp({ epochs: 9, evalEvery: 2, evalSize: 10, evalAttackSteps: 3, evalRestarts: 2 }), same: true },
    { name: 'another lr changes it', other: fp({ lr: 0.5 }), same: false },
    { name: 'another ring size changes it', other: fp({}, { worldSize: 3 }), same: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(configId(c.other) === configId(fp()), c.same));
});

describe('checkResumeConfig', () => {
  const cases: { name: string; current: RunFingerprint; allowed: string[]; want: RegExp | string[] }[] = [
    { name: 'same configuration resumes', current: fp(), allowed: [], want: [] },
    { name: 'an allowed change resumes and is reported', current: fp({ epochs: 6 }), allowed: ['epochs'], want: ['--epochs'] },
    { name: 'an unallowed safe change names the flag to allow it', current: fp({ epochs: 6 }), allowed: [], want: /\(--epochs 4→6\): rerun .*; to keep the checkpoint and change only epochs, add --allow-config-change epochs$/ },
    { name: 'allowing epochs does not allow lr', current: fp({ epochs: 6, lr: 0.5 }), allowed: ['epochs'], want: /^checkpoint step-00000008 in \/c was written with another configuration \(--lr 0\.03→0\.5\): rerun with the checkpoint's values or use a fresh --checkpoint-dir$/ },
  ];
  it('a checkpoint of an older worker, which recorded only a few fields, is refused', () => {
    const legacy = { model: 'mlp', dataset: 'mnist', optimizer: 'adam', seed: 1, trainExamples: 512, batchSize: 128, worldSize: 2, stepsPerEpoch: 2, weightCount: 100 } as unknown as RunFingerprint;
    assert.throws(
      () => checkResumeConfig(legacy, fp(), [], 'step-00000008 in /c'),
      (err: unknown) => err instanceof ConfigError && /written by an older worker .*\(no attack, eps, lr, compression, epochs\).*use a fresh --checkpoint-dir$/.test(err.message),
    );
  });

  for (const c of cases) {
    it(c.name, () => {
      const run = (): string[] => checkResumeConfig(fp(), c.current, c.allowed, 'step-00000008 in /c').map((d) => d.name);
      if (Array.isArray(c.want)) assert.deepEqual(run(), c.want);
      else assert.throws(run, (err: unknown) => err instanceof ConfigError && (c.want as RegExp).test(err.message));
    });
  }
});
