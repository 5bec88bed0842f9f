import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHeadlessService } from '../../../operator/desired/headless-service.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

test('buildHeadlessService publishes not-ready addresses for every rank', () => {
  const svc = buildHeadlessService(makeDATJob('j').namespace('ns').uid('u').obj());
  assert.equal(svc.metadata!.name, 'j');
  assert.equal(svc.spec!.clusterIP, 'None');
  assert.equal(svc.spec!.publishNotReadyAddresses, true);
  assert.deepEqual(svc.spec!.selector, { 'dat-operator.io/job-name': 'j' });
  assert.deepEqual(svc.spec!.ports!.map((p) => [p.name, p.port]), [['ring', 29500], ['metrics', 9400]]);
  assert.equal(svc.metadata!.ownerReferences![0]!.uid, 'u');
});
