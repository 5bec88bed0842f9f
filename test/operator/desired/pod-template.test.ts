import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { DATJobWorkersSpec } from '../../../operator/api/types.js';
import { buildTemplatePodSpecFields, mergeEnv, mergeLabels, mergeVolumeMounts, mergeVolumes, templateEnv } from '../../../operator/desired/pod-template.js';

const own: V1VolumeMount[] = [
  { name: 'checkpoint', mountPath: '/var/lib/dat/checkpoint' },
  { name: 'tmp', mountPath: '/tmp' },
];
const extraVolumes: V1Volume[] = [{ name: 'ds', persistentVolumeClaim: { claimName: 'ds', readOnly: true } }];

test('mergeVolumeMounts keeps the operator mounts and drops template mounts that clash', () => {
  const cases: { name: string; extra: V1VolumeMount[]; want: string[] }[] = [
    { name: 'a free path is added', extra: [{ name: 'ds', mountPath: '/datasets' }], want: ['/datasets'] },
    { name: 'the same path as an operator mount', extra: [{ name: 'ds', mountPath: '/tmp' }], want: [] },
    { name: 'inside an operator mount', extra: [{ name: 'ds', mountPath: '/var/lib/dat/checkpoint/x' }], want: [] },
    { name: 'above an operator mount (would hide it)', extra: [{ name: 'ds', mountPath: '/var/lib/dat' }], want: [] },
    { name: 'a prefix that is not a parent', extra: [{ name: 'ds', mountPath: '/tmpfiles' }], want: ['/tmpfiles'] },
    { name: 'an operator volume name', extra: [{ name: 'checkpoint', mountPath: '/ckpt2' }], want: [] },
    { name: 'a volume the template does not define', extra: [{ name: 'nope', mountPath: '/nope' }], want: [] },
  ];
  for (const c of cases) {
    const got = mergeVolumeMounts(own, c.extra, extraVolumes).slice(own.length).map((m) => m.mountPath);
    assert.deepEqual(got, c.want, `${c.name}: -want +got`);
  }
});

test('mergeVolumes, mergeEnv and mergeLabels let the operator win on a shared name', () => {
  const vols = mergeVolumes([{ name: 'tmp', emptyDir: {} }], [{ name: 'tmp', configMap: { name: 'x' } }, { name: 'ds', emptyDir: {} }]);
  assert.deepEqual(vols, [{ name: 'tmp', emptyDir: {} }, { name: 'ds', emptyDir: {} }]);
  const env = mergeEnv([{ name: 'TMPDIR', value: '/tmp' }], [{ name: 'TMPDIR', value: '/x' }, { name: 'A', value: '1' }]);
  assert.deepEqual(env, [{ name: 'TMPDIR', value: '/tmp' }, { name: 'A', value: '1' }]);
  assert.deepEqual(mergeLabels({ 'dat-operator.io/rank': '0' }, { 'dat-operator.io/rank': '7', team: 'a' }), { 'dat-operator.io/rank': '0', team: 'a' });
  assert.deepEqual(mergeLabels({ a: '1' }, undefined), { a: '1' });
});

test('buildTemplatePodSpecFields takes each field from the top of workers or the template, and omits unset ones', () => {
  const cases: { name: string; workers: DATJobWorkersSpec; want: Record<string, unknown> }[] = [
    { name: 'nothing set', workers: { replicas: 2 }, want: {} },
    {
      name: 'top-level fields',
      workers: { replicas: 2, nodeSelector: { a: 'b' }, serviceAccountName: 'sa', tolerations: [{ key: 'k', operator: 'Exists' }] },
      want: { nodeSelector: { a: 'b' }, serviceAccountName: 'sa', tolerations: [{ key: 'k', operator: 'Exists' }] },
    },
    {
      name: 'template fields',
      workers: {
        replicas: 2,
        template: { spec: { nodeSelector: { c: 'd' }, priorityClassName: 'high', schedulerName: 'volcano', terminationGracePeriodSeconds: 120, imagePullSecrets: [{ name: 'r' }], affinity: { nodeAffinity: {} } } },
      },
      want: { nodeSelector: { c: 'd' }, priorityClassName: 'high', schedulerName: 'volcano', terminationGracePeriodSeconds: 120, imagePullSecrets: [{ name: 'r' }], affinity: { nodeAffinity: {} } },
    },
  ];
  for (const c of cases) assert.deepEqual(buildTemplatePodSpecFields(c.workers), c.want, c.name);
  assert.deepEqual(templateEnv({ replicas: 1, template: { spec: { env: [{ name: 'X', value: '1' }] } } }), [{ name: 'X', value: '1' }]);
  assert.equal(templateEnv({ replicas: 1 }), undefined);
});
