/**
 * The DATJob CRD against a real kube-apiserver: a bad spec is rejected with a
 * message naming the field and the reason; defaults are applied; immutable
 * fields cannot change.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DATJob } from '../../../operator/api/types.js';
import { apiErrorMessage } from '../../../operator/apply.js';
import { startControlPlane } from '../../support/control-plane.js';
import { createTestNamespace } from '../../support/kube.js';
import { makeDATJob, type DATJobBuilder } from '../../support/fixtures/datjob-builder.js';
import { DATJobs, installDATJobCRD } from './_crd.js';

let cp: Awaited<ReturnType<typeof startControlPlane>>;
let jobs: DATJobs;
let ns: string;

before(async () => {
  cp = await startControlPlane({ controllerManager: false });
  await installDATJobCRD(cp);
  jobs = new DATJobs(cp.kubeConfig);
  ns = (await createTestNamespace(cp.kubeConfig, 'crd')).name;
});

after(async () => {
  await cp?.stop();
});

/** Mutates a built job's spec (fields the builder has no method for). */
function edit(b: DATJobBuilder, fn: (spec: Record<string, unknown>) => void): DATJob {
  const job = b.obj();
  fn(job.spec as unknown as Record<string, unknown>);
  return job;
}

async function rejection(job: DATJob): Promise<string> {
  try {
    await jobs.create({ ...job, metadata: { ...job.metadata, namespace: ns } });
  } catch (err) {
    return apiErrorMessage(err);
  }
  return 'accepted';
}

test('invalid DATJobs are rejected with a message naming the field and why', async () => {
  const cases: { name: string; job: DATJob; want: RegExp[] }[] = [
    {
      name: 'zero workers',
      job: makeDATJob('r1').workers(0).obj(),
      want: [/spec\.workers\.replicas/, /greater than or equal to 1/],
    },
    {
      name: 'unknown dataset',
      job: makeDATJob('r2').training({ dataset: 'imagenet' as never }).obj(),
      want: [/spec\.training\.dataset/, /Unsupported value: "imagenet"/, /"mnist"/],
    },
    {
      name: 'pgd with zero steps',
      job: makeDATJob('r3').training({ attack: { type: 'pgd', steps: 0 } }).obj(),
      want: [/spec\.training\.attack\.steps/, /greater than or equal to 1|attack\.steps must be >= 1 for pgd/],
    },
    {
      name: 'pgd step size above eps',
      job: makeDATJob('r4').training({ attack: { type: 'pgd', eps: 0.1, stepSize: 0.2, steps: 5 } }).obj(),
      want: [/spec\.training\.attack\.stepSize/, /attack\.stepSize must be <= attack\.eps/],
    },
    {
      name: 'compression with one worker',
      job: makeDATJob('r5').workers(1).training({ compression: { type: 'qsgd8' } }).obj(),
      want: [/spec\.training\.compression\.type/, /needs workers\.replicas > 1/],
    },
    {
      name: 'reserved DAT_ env',
      job: makeDATJob('r6').env({ name: 'DAT_RANK', value: '3' }).obj(),
      want: [/spec\.workers\.env/, /must not set DAT_\* variables/],
    },
    {
      name: 'checkpoint volume with both sources',
      job: makeDATJob('r7').obj(),
      want: [/spec\.checkpoint\.volume/, /exactly one of claimName and emptyDir/],
    },
    {
      name: 'file dataset without a data volume',
      job: makeDATJob('r8').training({ dataset: 'cifar10' }).obj(),
      want: [/spec\.training\.dataVolume/, /dataVolume is required/],
    },
    {
      name: 'unknown cleanPodPolicy',
      job: makeDATJob('r9').runPolicy({ cleanPodPolicy: 'Some' as never }).obj(),
      want: [/spec\.runPolicy\.cleanPodPolicy/, /Unsupported value: "Some"/],
    },
    {
      name: 'missing model',
      job: edit(makeDATJob('r10'), (s) => delete (s.training as Record<string, unknown>).model),
      want: [/spec\.training\.model/, /Required value/],
    },
    {
      name: 'L-inf eps above 1',
      job: makeDATJob('r11').training({ attack: { type: 'fgsm', eps: 8 } }).obj(),
      want: [/spec\.training\.attack\.eps/, /L-inf radius in \[0,1\]/],
    },
    {
      name: 'step schedule without milestones',
      job: makeDATJob('r12').training({ schedule: { type: 'step' } }).obj(),
      want: [/spec\.training\.schedule\.milestones/, /at least one epoch/],
    },
    {
      name: 'name too long for pod hostnames',
      job: makeDATJob('a'.repeat(49)).obj(),
      want: [/metadata\.name/, /must have at most 48 characters|Too long/],
    },
    {
      name: 'warm-up longer than training',
      job: makeDATJob('r14').training({ epochs: 3, schedule: { type: 'cosine', warmupEpochs: 5 } }).obj(),
      want: [/spec\.training\.schedule\.warmupEpochs/, /at most training\.epochs/],
    },
    {
      name: 'final evaluation: none next to an attack',
      job: makeDATJob('r15').evaluation({ attacks: ['none', 'pgd'] }).obj(),
      want: [/spec\.evaluation\.attacks/, /none turns the final evaluation off/],
    },
    {
      name: 'final evaluation: L-inf eps above 1',
      job: makeDATJob('r16').evaluation({ eps: 1.5 }).obj(),
      want: [/spec\.evaluation\.eps/, /less than or equal to 1/],
    },
    {
      name: 'final evaluation: unknown attack',
      job: makeDATJob('r17').evaluation({ attacks: ['cw' as never] }).obj(),
      want: [/spec\.evaluation\.attacks\[0\]/, /Unsupported value: "cw"/],
    },
  ];
  // r7: both sources set.
  (cases[6]!.job.spec.checkpoint as { volume: object }).volume = { claimName: 'c', emptyDir: {} };
  for (const c of cases) {
    const msg = await rejection(c.job);
    for (const re of c.want) assert.match(msg, re, `${c.name}: ${msg}`);
  }
});

test('a valid DATJob is accepted with the defaults applied', async () => {
  const created = await jobs.create(makeDATJob('ok').namespace(ns).training({ attack: { type: 'pgd', eps: 0.3, steps: 10, stepSize: 0.01 } }).obj());
  assert.equal(created.spec.workers.replicas, 2);
  assert.equal(created.spec.workers.imagePullPolicy, 'IfNotPresent');
  assert.equal(created.spec.runPolicy?.backoffLimit, 3);
  assert.equal(created.spec.runPolicy?.cleanPodPolicy, 'Running');
  assert.equal(created.spec.runPolicy?.suspend, false);
  assert.equal(created.spec.training.loss, undefined, 'the loss follows the attack in the worker');
  assert.equal(created.spec.training.attack?.type, 'pgd');
  assert.equal(created.spec.training.compression?.type, 'none');
  assert.equal(created.spec.training.unlabeledFraction, 0);
});

test('immutable fields cannot change after creation; runPolicy can', async () => {
  const job = await jobs.create(makeDATJob('imm').namespace(ns).obj());
  const cases: { name: string; mutate: (j: DATJob) => DATJob; want?: RegExp }[] = [
    { name: 'replicas', mutate: (j) => ({ ...j, spec: { ...j.spec, workers: { ...j.spec.workers, replicas: 3 } } }), want: /workers\.replicas is immutable/ },
    { name: 'training', mutate: (j) => ({ ...j, spec: { ...j.spec, training: { ...j.spec.training, epochs: 9 } } }), want: /training is immutable/ },
    { name: 'checkpoint volume', mutate: (j) => ({ ...j, spec: { ...j.spec, checkpoint: { volume: { claimName: 'x' } } } }), want: /checkpoint\.volume is immutable/ },
    { name: 'final evaluation added', mutate: (j) => ({ ...j, spec: { ...j.spec, evaluation: { attacks: ['pgd'] } } }), want: /evaluation is immutable/ },
    { name: 'suspend (allowed)', mutate: (j) => ({ ...j, spec: { ...j.spec, runPolicy: { ...j.spec.runPolicy, suspend: true } } }) },
  ];
  for (const c of cases) {
    const current = await jobs.get(ns, 'imm');
    try {
      await jobs.replace(c.mutate(current));
      assert.equal(c.want, undefined, `${c.name}: expected a rejection`);
    } catch (err) {
      if (c.want === undefined) throw err;
      assert.match(apiErrorMessage(err), c.want, c.name);
    }
  }
  assert.ok(job.metadata.uid);
});

test('the pod template is validated: reserved names and paths, one volume source, no field set twice', async () => {
  const tpl = (spec: Record<string, unknown>, name: string): DATJob => makeDATJob(name).template({ spec } as never).obj();
  const cases: { name: string; job: DATJob; want: RegExp[] }[] = [
    {
      name: 'reserved volume name',
      job: tpl({ volumes: [{ name: 'checkpoint', emptyDir: {} }] }, 't1'),
      want: [/spec\.workers\.template\.spec\.volumes\[0\]\.name/, /reserved for the operator's volumes/],
    },
    {
      name: 'two volume sources',
      job: tpl({ volumes: [{ name: 'ds', emptyDir: {}, persistentVolumeClaim: { claimName: 'x' } }] }, 't2'),
      want: [/spec\.workers\.template\.spec\.volumes\[0\]/, /exactly one of persistentVolumeClaim, configMap, secret and emptyDir/],
    },
    {
      name: 'mount above an operator path',
      job: tpl({ volumes: [{ name: 'ds', emptyDir: {} }], volumeMounts: [{ name: 'ds', mountPath: '/var/lib' }] }, 't3'),
      want: [/spec\.workers\.template\.spec\.volumeMounts\[0\]\.mountPath/, /must not mount at, inside or above/],
    },
    {
      name: 'mount of an undefined volume',
      job: tpl({ volumeMounts: [{ name: 'nope', mountPath: '/data2' }] }, 't4'),
      want: [/spec\.workers\.template\.spec\.volumeMounts/, /must name a volume/],
    },
    {
      name: 'reserved env in the template',
      job: tpl({ env: [{ name: 'DAT_PEERS', value: 'x' }] }, 't5'),
      want: [/spec\.workers\.template\.spec\.env/, /must not set DAT_\* variables/],
    },
    {
      name: 'nodeSelector set twice',
      job: edit(makeDATJob('t6').template({ spec: { nodeSelector: { a: 'b' } } }), (s) => ((s.workers as Record<string, unknown>).nodeSelector = { c: 'd' })),
      want: [/spec\.workers/, /set workers\.nodeSelector or workers\.template\.spec\.nodeSelector, not both/],
    },
    {
      name: 'bad label key',
      job: makeDATJob('t7').template({ metadata: { labels: { 'bad key!': 'v' } } }).obj(),
      want: [/spec\.workers\.template\.metadata\.labels/, /must be qualified names/],
    },
    {
      name: 'Volcano PodGroup with a coscheduling timeout',
      job: edit(makeDATJob('t9'), (s) => (s.scheduling = { podGroup: { scheduler: 'Volcano', scheduleTimeoutSeconds: 5 } })),
      want: [/spec\.scheduling\.podGroup\.scheduleTimeoutSeconds/, /applies to Coscheduling only/],
    },
    {
      name: 'unknown gang scheduler',
      job: edit(makeDATJob('t10'), (s) => (s.scheduling = { podGroup: { scheduler: 'Yunikorn' } })),
      want: [/spec\.scheduling\.podGroup\.scheduler/, /Unsupported value: "Yunikorn"/],
    },
    {
      name: 'grace period of zero (a force delete, no time to save a checkpoint)',
      job: makeDATJob('t10').template({ spec: { terminationGracePeriodSeconds: 0 } }).obj(),
      want: [/spec\.workers\.template\.spec\.terminationGracePeriodSeconds/, /should be greater than or equal to 1/],
    },
    {
      name: 'bad label value',
      job: makeDATJob('t8').template({ metadata: { labels: { team: 'not ok!' } } }).obj(),
      want: [/spec\.workers\.template\.metadata\.labels\.team/, /should match/],
    },
  ];
  for (const c of cases) {
    const msg = await rejection(c.job);
    for (const re of c.want) assert.match(msg, re, `${c.name}: ${msg}`);
  }
  const ok = makeDATJob('t-ok')
    .namespace(ns)
    .template({
      metadata: { labels: { 'example.com/team': 'robustness' }, annotations: { note: 'x' } },
      spec: {
        priorityClassName: 'high',
        terminationGracePeriodSeconds: 300,
        imagePullSecrets: [{ name: 'r' }],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] } } },
        volumes: [{ name: 'ds', persistentVolumeClaim: { claimName: 'imagenet', readOnly: true } }],
        volumeMounts: [{ name: 'ds', mountPath: '/datasets', readOnly: true }],
        env: [{ name: 'A', value: '1' }],
      },
    })
    .obj();
  (ok.spec as { scheduling?: unknown }).scheduling = { podGroup: { scheduler: 'Coscheduling', scheduleTimeoutSeconds: 60 } };
  const created = await jobs.create(ok);
  assert.deepEqual(created.spec.scheduling, { podGroup: { scheduler: 'Coscheduling', scheduleTimeoutSeconds: 60 } });
  assert.deepEqual(created.spec.workers.template, ok.spec.workers.template, 'the template round-trips unpruned');
});
