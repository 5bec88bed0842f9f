/**
 * Golden output: the full rendered pod and Service of a representative job,
 * compared with stored JSON. Regenerate with `UPDATE_GOLDEN=1` after an
 * intended change, and review the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHeadlessService } from '../../../operator/desired/headless-service.js';
import { buildWorkerPod } from '../../../operator/desired/worker-pod.js';
import { buildPodGroup } from '../../../operator/desired/pod-group.js';
import type { DATJob } from '../../../operator/api/types.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';
import { REPO_ROOT } from '../../support/paths.js';

const dir = join(REPO_ROOT, 'test', 'operator', 'desired', 'testdata');

function checkGolden(file: string, value: unknown): void {
  const path = join(dir, file);
  const got = `${JSON.stringify(value, null, 2)}\n`;
  // Rewritten only on request: a missing golden file is a failure, not a fresh baseline.
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, got);
  assert.ok(existsSync(path), `${file} is missing (UPDATE_GOLDEN=1 writes it; review the result)`);
  assert.equal(got, readFileSync(path, 'utf8'), `${file} differs from the golden file (UPDATE_GOLDEN=1 regenerates it)`);
}

const job = makeDATJob('mnist-pgd')
  .namespace('research')
  .uid('11111111-2222-3333-4444-555555555555')
  .workers(4)
  .image('ghcr.io/dat-operator/worker:0.1.0')
  .claim('mnist-ckpt')
  .checkpointEvery(100)
  .training({
    attack: { type: 'pgd', eps: 0.3, steps: 10, stepSize: 0.01 },
    loss: { type: 'adv-clean', lambda: 1 },
    optimizer: { type: 'lamb', lr: 0.001 },
    epochs: 5,
    batchSizePerWorker: 64,
    compression: { type: 'qsgd8', warmupSteps: 50 },
    seed: 1,
  })
  .status({ restarts: 1 })
  .obj();

/** A job using every field of the pod template (a Kueue queue, a dataset PVC, spread across nodes). */
const templated = makeDATJob('cifar-trades')
  .namespace('research')
  .uid('66666666-7777-8888-9999-000000000000')
  .workers(3)
  .claim('cifar-ckpt')
  .training({ dataset: 'cifar10', model: 'preact-resnet', dataVolume: { claimName: 'cifar10' } })
  .template({
    metadata: { labels: { team: 'robustness', 'dat-operator.io/rank': 'ignored' }, annotations: { 'example.com/cost-center': 'ml-42' } },
    spec: {
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'dat-operator.io/job-name': 'cifar-trades' } } } },
          ],
        },
      },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { 'cloud.example.com/accelerator': 'h100' },
      priorityClassName: 'training-high',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 300,
      imagePullSecrets: [{ name: 'registry-creds' }],
      volumes: [{ name: 'imagenet', persistentVolumeClaim: { claimName: 'imagenet-ro', readOnly: true } }],
      volumeMounts: [{ name: 'imagenet', mountPath: '/datasets/imagenet', readOnly: true }],
      env: [{ name: 'HTTPS_PROXY', value: 'http://proxy.internal:3128' }, { name: 'TMPDIR', value: '/ignored' }],
      serviceAccountName: 'trainer',
    },
  })
  .obj();

test('worker pod of rank 0 with a full pod template matches the golden file', () => {
  checkGolden('worker-pod-template-rank0.json', buildWorkerPod(templated, 0));
});

/** The same job under each gang scheduler. */
const gangJob = (podGroup: NonNullable<DATJob['spec']['scheduling']>['podGroup']): DATJob => ({ ...job, spec: { ...job.spec, scheduling: { podGroup } } });

test('coscheduling: PodGroup and the pod of rank 0 match the golden files', () => {
  const coscheduled = gangJob({ scheduler: 'Coscheduling', scheduleTimeoutSeconds: 120 });
  checkGolden('podgroup-coscheduling.json', buildPodGroup(coscheduled));
  checkGolden('worker-pod-coscheduling-rank0.json', buildWorkerPod(coscheduled, 0));
});

test('Volcano: PodGroup and the pod of rank 0 match the golden files', () => {
  const volcano = gangJob({ scheduler: 'Volcano', queue: 'research' });
  checkGolden('podgroup-volcano.json', buildPodGroup(volcano));
  checkGolden('worker-pod-volcano-rank0.json', buildWorkerPod(volcano, 0));
});

test('worker pod of rank 1 matches the golden file', () => {
  checkGolden('worker-pod-rank1.json', buildWorkerPod(job, 1));
});

test('headless service matches the golden file', () => {
  checkGolden('headless-service.json', buildHeadlessService(job));
});
