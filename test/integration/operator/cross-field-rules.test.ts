/**
 * Every cross-field rule of worker/cli/cross-field-rules.ts that the CRD
 * carries, against a real kube-apiserver: the rule's violating spec.training
 * is refused by the API server with a message for that field, and the same
 * spec, rendered into flags by the operator, is refused by the worker's
 * parser. test/crds/datjob-option-specs.test.ts proves the CRD holds no other
 * training rule, so together they show the two refuse the same specs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DATJob, DATJobTrainingSpec } from '../../../operator/api/types.js';
import { apiErrorMessage } from '../../../operator/apply.js';
import { buildTrainArgs } from '../../../operator/desired/train-args.js';
import { CROSS_FIELD_RULES } from '../../../worker/cli/cross-field-rules.js';
import { parseTrainArgs } from '../../../worker/cli/parse-args.js';
import { ConfigError } from '../../../common/errors.js';
import { startControlPlane } from '../../support/control-plane.js';
import { createTestNamespace } from '../../support/kube.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';
import { DATJobs, installDATJobCRD } from './_crd.js';

let cp: Awaited<ReturnType<typeof startControlPlane>>;
let jobs: DATJobs;
let ns: string;

before(async () => {
  cp = await startControlPlane({ controllerManager: false });
  await installDATJobCRD(cp);
  jobs = new DATJobs(cp.kubeConfig);
  ns = (await createTestNamespace(cp.kubeConfig, 'rules')).name;
});

after(async () => {
  await cp?.stop();
});

async function create(job: DATJob): Promise<string> {
  try {
    await jobs.create({ ...job, metadata: { ...job.metadata, namespace: ns } });
  } catch (err) {
    return apiErrorMessage(err);
  }
  return 'accepted';
}

test('the API server and the worker both refuse each cross-field rule\'s violating spec', async (t) => {
  const withCrd = CROSS_FIELD_RULES.filter((r) => r.crd !== undefined && 'training' in r.violation);
  assert.ok(withCrd.length >= 7, `only ${withCrd.length} rules carried by the CRD`);
  for (const [i, rule] of withCrd.entries()) {
    await t.test(rule.id, async () => {
      const training = (rule.violation as { training: Record<string, unknown> }).training as unknown as DATJobTrainingSpec;
      const base = makeDATJob(`rule-${i}`).obj();
      const job: DATJob = { ...base, spec: { ...base.spec, training } };
      const msg = await create(job);
      assert.notEqual(msg, 'accepted', 'the API server accepted it');
      assert.match(msg, /spec\.training/, msg);
      const argv = buildTrainArgs(training, job.spec.checkpoint, { checkpointDir: '/var/lib/dat/checkpoint', outputDir: '/tmp/dat-out' });
      assert.throws(() => parseTrainArgs(argv, { DAT_WORLD_SIZE: '2' }), ConfigError, argv.join(' '));
    });
  }
});

test('the API server accepts a spec next to each violation (the refusal above is the rule\'s)', async () => {
  // Each relaxed spec changes only the field the rule looks at (the CRD unit test parses the same ones in the worker).
  const relaxed: DATJobTrainingSpec[] = [
    { dataset: 'cifar10', model: 'small-cnn', dataVolume: { claimName: 'd' } },
    { dataset: 'mnist', model: 'mlp', epochs: 4, schedule: { type: 'step', milestones: [2], warmupEpochs: 4 } },
    { dataset: 'mnist', model: 'mlp', epochs: 4, schedule: { type: 'cosine', warmupEpochs: 3 } },
    { dataset: 'mnist', model: 'mlp', attack: { type: 'pgd-l2', eps: 8 } },
    { dataset: 'mnist', model: 'mlp', attack: { type: 'pgd', eps: 0.2, stepSize: 0.2, steps: 5 } },
    { dataset: 'mnist', model: 'mlp', schedule: { type: 'step', milestones: [5] } },
    { dataset: 'mnist', model: 'mlp', limit: 2, unlabeledFraction: 0.5 },
  ] as unknown as DATJobTrainingSpec[];
  for (const [i, training] of relaxed.entries()) {
    const base = makeDATJob(`ok-${i}`).obj();
    const job: DATJob = { ...base, spec: { ...base.spec, training } };
    assert.equal(await create(job), 'accepted', JSON.stringify(training));
  }
});
