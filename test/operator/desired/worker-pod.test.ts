import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorkerPod } from '../../../operator/desired/worker-pod.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

function envOf(pod: ReturnType<typeof buildWorkerPod>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of pod.spec!.containers[0]!.env ?? []) out[e.name] = e.value ?? e.valueFrom;
  return out;
}

test('buildWorkerPod renders the worker contract for each rank', () => {
  const job = makeDATJob('j').namespace('ns').uid('u1').workers(3).status({ restarts: 2 }).obj();
  const cases = [0, 1, 2].map((rank) => ({ rank, wantName: `j-worker-${rank}` }));
  for (const c of cases) {
    const pod = buildWorkerPod(job, c.rank);
    assert.equal(pod.metadata!.name, c.wantName);
    assert.equal(pod.metadata!.namespace, 'ns');
    assert.deepEqual(pod.metadata!.labels, {
      'dat-operator.io/job-name': 'j',
      'dat-operator.io/rank': String(c.rank),
      'dat-operator.io/incarnation': '2',
      'app.kubernetes.io/managed-by': 'dat-operator',
    });
    assert.deepEqual(pod.metadata!.ownerReferences, [
      { apiVersion: 'dat.dat-operator.io/v1alpha1', kind: 'DATJob', name: 'j', uid: 'u1', controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.equal(pod.spec!.hostname, c.wantName);
    assert.equal(pod.spec!.subdomain, 'j');
    const ctr = pod.spec!.containers[0]!;
    assert.equal(ctr.image, 'ghcr.io/dat-operator/worker:0.1.0');
    assert.deepEqual(ctr.command, ['dat']);
    assert.deepEqual(ctr.args, [
      'train', '--dataset', 'mnist', '--model', 'mlp',
      '--checkpoint-dir', '/var/lib/dat/checkpoint', '--output', '/var/lib/dat/checkpoint/output',
    ]);
    assert.deepEqual(envOf(pod), {
      DAT_RANK: String(c.rank),
      DAT_WORLD_SIZE: '3',
      DAT_PEER_TEMPLATE: 'j-worker-{rank}.j.ns.svc:29500',
      DAT_NAMESPACE: 'ns',
      DAT_RING_BIND: { fieldRef: { fieldPath: 'status.podIP' } },
      DAT_RING_PORT: '29500',
      DAT_METRICS_PORT: '9400',
      DAT_JOB_NAME: 'j',
      DAT_RESTART_COUNT: '2',
      DAT_TLS_DIR: '/var/run/dat/ring-tls',
      DAT_CACHE_DIR: '/var/cache/dat',
      TMPDIR: '/tmp',
    });
    assert.deepEqual(ctr.volumeMounts, [
      { name: 'checkpoint', mountPath: '/var/lib/dat/checkpoint' },
      { name: 'ring-tls', mountPath: '/var/run/dat/ring-tls', readOnly: true },
      { name: 'dataset-cache', mountPath: '/var/cache/dat' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    assert.deepEqual(pod.spec!.volumes, [
      { name: 'checkpoint', emptyDir: {} },
      {
        name: 'ring-tls',
        secret: {
          secretName: 'j-ring-tls-2',
          defaultMode: 0o440,
          items: [
            { key: 'ca.crt', path: 'ca.crt' },
            { key: 'ca.key', path: 'ca.key' },
          ],
        },
      },
      { name: 'dataset-cache', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ]);
  }
});

test('a worker pod has the same size at 2 and 1,024 replicas (peers are a DNS name pattern, not a list)', () => {
  // Rank 1 in both: the rank's digits are the only per-rank part, and they are the same here.
  const bytes = (replicas: number): number => {
    const job = makeDATJob('a'.repeat(48)).namespace('team-a').uid('u').workers(replicas).obj();
    return Buffer.byteLength(JSON.stringify(buildWorkerPod(job, 1)));
  };
  const cases = [2, 4, 1024].map((replicas) => ({ replicas, got: bytes(replicas) }));
  // DAT_WORLD_SIZE itself is the only value that grows: by its number of digits.
  const worldSizeDigits = (n: number): number => String(n).length;
  for (const c of cases) assert.equal(c.got - worldSizeDigits(c.replicas), cases[0]!.got - worldSizeDigits(2), `${c.replicas} replicas: ${c.got} bytes`);
});

test('buildWorkerPod carries images, resources, scheduling, extra env and volumes', () => {
  const job = makeDATJob('g')
    .uid('u')
    .image('my/gpu-worker:1')
    .env({ name: 'EXTRA', value: '1' })
    .claim('ckpt-pvc')
    .training({ dataset: 'cifar10', dataVolume: { claimName: 'cifar' } })
    .obj();
  const spec = { ...job.spec, workers: { ...job.spec.workers, resources: { limits: { 'nvidia.com/gpu': '1' } }, nodeSelector: { gpu: 'yes' } } };
  const pod = buildWorkerPod({ ...job, spec }, 1, { defaultImage: 'ignored' });
  const ctr = pod.spec!.containers[0]!;
  assert.equal(ctr.image, 'my/gpu-worker:1');
  assert.deepEqual(ctr.resources, { limits: { 'nvidia.com/gpu': '1' } });
  assert.deepEqual(pod.spec!.nodeSelector, { gpu: 'yes' });
  assert.equal(envOf(pod).EXTRA, '1');
  assert.deepEqual(pod.spec!.volumes!.slice(0, 2), [
    { name: 'checkpoint', persistentVolumeClaim: { claimName: 'ckpt-pvc', readOnly: false } },
    { name: 'data', persistentVolumeClaim: { claimName: 'cifar', readOnly: true } },
  ]);
  assert.ok(ctr.args!.join(' ').includes('--data-dir /var/lib/dat/data'));
  const dflt = buildWorkerPod(makeDATJob('d').obj(), 0, { defaultImage: 'local/worker:dev' });
  assert.equal(dflt.spec!.containers[0]!.image, 'local/worker:dev');
});

test('buildWorkerPod hardens the pod: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no token', () => {
  const pod = buildWorkerPod(makeDATJob('h').obj(), 0);
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  assert.deepEqual(pod.spec!.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(pod.spec!.containers[0]!.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  // Every path the worker writes is a volume: the job's own, /tmp, and the dataset cache.
  const mounted = pod.spec!.containers[0]!.volumeMounts!.filter((m) => m.readOnly !== true).map((m) => m.mountPath);
  assert.deepEqual(mounted.sort(), ['/tmp', '/var/cache/dat', '/var/lib/dat/checkpoint']);
});
