/**
 * The example manifests are valid for the real API server: `kubectl apply
 * --dry-run=server` runs the CRD's schema, defaults and CEL rules on them.
 * Needs only etcd + kube-apiserver (fast), so a broken example is reported
 * even when the full e2e suite cannot run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { REPO_ROOT } from '../support/paths.js';
import { EXAMPLES, deriveJob, examplePvcName, examplePvcYaml, loadManifests, loadMnistJob } from './support/examples.js';
import { KubeCli } from './support/kube-cli.js';
import { CRD_NAME, waitCrdEstablished } from './support/operator-release.js';

/** The CRD's single source. */
const CRD_FILE = join(REPO_ROOT, 'crds', 'datjob.yaml');

describe('examples/', () => {
  let cp: ControlPlane | undefined;
  let cli: KubeCli;

  before(async () => {
    cp = await startControlPlane();
    cli = new KubeCli(cp.kubeconfigPath);
    await cli.apply({ file: CRD_FILE });
    await waitCrdEstablished(cli, CRD_NAME);
  }, { timeout: 120_000 });

  after(async () => {
    await cp?.stop();
  });

  const files = [
    { name: 'pvc.yaml', path: EXAMPLES.pvc },
    { name: 'datjob-mnist.yaml', path: EXAMPLES.mnist },
    { name: 'datjob-gpu-resnet.yaml', path: EXAMPLES.gpuResnet },
    { name: 'kueue/datjob-queued.yaml', path: EXAMPLES.kueueJob },
  ];
  for (const f of files) {
    test(`${f.name} passes kubectl apply --dry-run=server`, async () => {
      const out = await cli.apply({ file: f.path }, { namespace: 'default', dryRun: 'server' });
      assert.match(out, /created \(server dry run\)/);
    });
  }

  test('the MNIST example runs 2 CPU workers and checkpoints to the example PVC', () => {
    const job = loadMnistJob();
    assert.equal(job.spec.workers.replicas, 2);
    assert.equal(job.spec.checkpoint.volume.claimName, examplePvcName());
    assert.equal(job.spec.workers.resources?.limits?.['nvidia.com/gpu'], undefined, 'no GPU needed');
  });

  test('the GPU example asks for one GPU on each of 8 workers, with PGD-10 at 8/255, LAMB and sign-ef', () => {
    const [obj] = loadManifests(EXAMPLES.gpuResnet);
    const spec = obj?.spec as { workers: { replicas: number; resources: { limits: Record<string, unknown> } }; training: Record<string, { type?: string; steps?: number; eps?: number }> } | undefined;
    assert.ok(spec !== undefined);
    assert.equal(spec.workers.replicas, 8);
    assert.equal(spec.workers.resources.limits['nvidia.com/gpu'], 1);
    assert.equal(spec.training.attack?.type, 'pgd');
    assert.equal(spec.training.attack?.steps, 10);
    assert.ok(Math.abs((spec.training.attack?.eps ?? 0) - 8 / 255) < 1e-6);
    assert.equal(spec.training.optimizer?.type, 'lamb');
    assert.equal(spec.training.compression?.type, 'sign-ef');
  });

  test('the kind provider\'s ReadWriteOnce copy of the PVC and a derived job are valid too', async () => {
    const pvc = examplePvcYaml('ReadWriteOnce');
    assert.match(pvc, /ReadWriteOnce/);
    assert.doesNotMatch(pvc, /ReadWriteMany/);
    await cli.apply({ yaml: pvc }, { namespace: 'default', dryRun: 'server' });
    const { job, yaml } = deriveJob(loadMnistJob(), 'mnist-hang', { runPolicy: { progressDeadlineSeconds: 20 }, training: { collectiveTimeoutMs: 600_000 } });
    assert.equal(job.metadata.name, 'mnist-hang');
    assert.equal(job.spec.runPolicy?.progressDeadlineSeconds, 20);
    assert.equal(job.spec.runPolicy?.backoffLimit, loadMnistJob().spec.runPolicy?.backoffLimit, 'unpatched fields are kept');
    assert.equal(job.spec.training.model, 'small-cnn');
    await cli.apply({ yaml }, { namespace: 'default', dryRun: 'server' });
  });

  test('a bad edit of the example is rejected with the field named', async () => {
    const job = loadMnistJob();
    const bad = {
      ...job,
      spec: { ...job.spec, workers: { ...job.spec.workers, replicas: 1 }, training: { ...job.spec.training, compression: { type: 'sign-ef' } } },
    };
    const r = await cli.kubectlResult(['apply', '--dry-run=server', '-f', '-'], { namespace: 'default', input: JSON.stringify(bad) });
    assert.notEqual(r.code, 0, 'compression with one worker is rejected');
    assert.match(r.stderr, /compression/);
  });
});
