import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJobCa } from '../../../common/certs.js';
import {
  buildRingTlsSecret,
  buildRingTlsVolume,
  buildRingTlsVolumeMount,
  ringTlsSecretName,
  staleRingTlsSecretNames,
} from '../../../operator/desired/ring-tls-secret.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

test('buildRingTlsSecret holds the job CA (certificate and key), owned by the job and labelled with its incarnation', async () => {
  const job = makeDATJob('j').namespace('ns').uid('u').workers(3).status({ restarts: 2 }).obj();
  const ca = await createJobCa({ namespace: 'ns', name: 'j' });
  const secret = buildRingTlsSecret(job, ca);
  assert.equal(secret.metadata!.name, 'j-ring-tls-2', 'the name carries the incarnation');
  assert.equal(secret.metadata!.namespace, 'ns');
  assert.equal(secret.immutable, true);
  assert.deepEqual(secret.metadata!.labels, { 'dat-operator.io/job-name': 'j', 'dat-operator.io/incarnation': '2', 'app.kubernetes.io/managed-by': 'dat-operator' });
  const owner = secret.metadata!.ownerReferences![0]!;
  assert.deepEqual([owner.kind, owner.name, owner.uid, owner.controller], ['DATJob', 'j', 'u', true]);
  assert.deepEqual(Object.keys(secret.data!).sort(), ['ca.crt', 'ca.key']);
  const decode = (k: string): string => Buffer.from(secret.data![k]!, 'base64').toString('utf8');
  assert.equal(decode('ca.crt'), ca.certPem);
  assert.equal(decode('ca.key'), ca.keyPem);
});

test('the ring TLS Secret does not grow with replicas and stays far below the 1 MiB Secret limit at 1,024', async () => {
  // A 48-character name: the case where one certificate per rank passed 1 MiB.
  const name = 'a'.repeat(48);
  // One CA for both: ECDSA signatures vary by a byte or two from one key to the next.
  const ca = await createJobCa({ namespace: 'ns', name });
  const size = (replicas: number): number => {
    const job = makeDATJob(name).namespace('ns').workers(replicas).obj();
    const secret = buildRingTlsSecret(job, ca);
    return Object.values(secret.data!).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  };
  const [small, large] = [size(2), size(1024)];
  assert.equal(large, small, 'same data size at 2 and 1,024 replicas');
  assert.ok(large < 4096, `data of ${large} bytes`);
});

test('each incarnation has its own Secret name; a rotation deletes only the previous one', () => {
  const at = (restarts?: number) => (restarts === undefined ? makeDATJob('j').obj() : makeDATJob('j').status({ restarts }).obj());
  const cases = [
    { name: 'first incarnation, no status', job: at(), want: [] as string[] },
    { name: 'incarnation 0', job: at(0), want: [] },
    { name: 'incarnation 1', job: at(1), want: ['j-ring-tls-0'] },
    { name: 'incarnation 5', job: at(5), want: ['j-ring-tls-4'] },
  ];
  for (const c of cases) assert.deepEqual(staleRingTlsSecretNames(c.job), c.want, c.name);
  assert.notEqual(ringTlsSecretName('j', 1), ringTlsSecretName('j', 2));
});

test('buildRingTlsVolume gives every rank the job CA certificate and key, as ca.crt/ca.key', () => {
  const vol = buildRingTlsVolume('j', 3);
  assert.equal(vol.secret!.secretName, 'j-ring-tls-3');
  assert.deepEqual(vol.secret!.items, [
    { key: 'ca.crt', path: 'ca.crt' },
    { key: 'ca.key', path: 'ca.key' },
  ]);
  assert.equal(vol.secret!.defaultMode, 0o440);
  assert.deepEqual(buildRingTlsVolumeMount(), { name: 'ring-tls', mountPath: '/var/run/dat/ring-tls', readOnly: true });
});
