import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRingCredentials } from '../../../worker/security/certs.js';
import {
  buildRingTlsSecret,
  buildRingTlsVolume,
  buildRingTlsVolumeMount,
  ringTlsSecretName,
  staleRingTlsSecretNames,
} from '../../../operator/desired/ring-tls-secret.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

test('buildRingTlsSecret holds the CA certificate and every rank pair, owned by the job and labelled with its incarnation', async () => {
  const job = makeDATJob('j').namespace('ns').uid('u').workers(3).status({ restarts: 2 }).obj();
  const creds = await createRingCredentials({ namespace: 'ns', name: 'j' }, 3);
  const secret = buildRingTlsSecret(job, { caPem: creds.ca.certPem, ranks: creds.ranks });
  assert.equal(secret.metadata!.name, 'j-ring-tls-2', 'the name carries the incarnation');
  assert.equal(secret.metadata!.namespace, 'ns');
  assert.equal(secret.immutable, true);
  assert.deepEqual(secret.metadata!.labels, { 'dat-operator.io/job-name': 'j', 'dat-operator.io/incarnation': '2', 'app.kubernetes.io/managed-by': 'dat-operator' });
  const owner = secret.metadata!.ownerReferences![0]!;
  assert.deepEqual([owner.kind, owner.name, owner.uid, owner.controller], ['DATJob', 'j', 'u', true]);
  assert.deepEqual(Object.keys(secret.data!).sort(), ['ca.crt', 'rank-0.crt', 'rank-0.key', 'rank-1.crt', 'rank-1.key', 'rank-2.crt', 'rank-2.key']);
  const decode = (k: string): string => Buffer.from(secret.data![k]!, 'base64').toString('utf8');
  assert.equal(decode('ca.crt'), creds.ca.certPem);
  assert.equal(decode('rank-1.key'), creds.ranks[1]!.keyPem);
  // The CA's private key must never be stored.
  for (const k of Object.keys(secret.data!)) assert.notEqual(decode(k), creds.ca.keyPem, k);
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

test('buildRingTlsVolume gives a pod only its own rank key, as ca.crt/tls.crt/tls.key', () => {
  const vol = buildRingTlsVolume('j', 3, 1);
  assert.equal(vol.secret!.secretName, 'j-ring-tls-3');
  assert.deepEqual(vol.secret!.items, [
    { key: 'ca.crt', path: 'ca.crt' },
    { key: 'rank-1.crt', path: 'tls.crt' },
    { key: 'rank-1.key', path: 'tls.key' },
  ]);
  assert.equal(vol.secret!.defaultMode, 0o440);
  assert.deepEqual(buildRingTlsVolumeMount(), { name: 'ring-tls', mountPath: '/var/run/dat/ring-tls', readOnly: true });
});
