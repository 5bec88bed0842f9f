import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOperatorFlags } from '../../operator/flags.js';

test('parseOperatorFlags: defaults, both flag forms, the chart\'s flags', () => {
  const d = parseOperatorFlags([], {});
  assert.deepEqual(d, {
    kubeconfig: undefined,
    namespace: undefined,
    leaderElect: false,
    leaderElectionNamespace: 'default',
    leaderElectionId: 'dat-operator-leader',
    metricsPort: 8080,
    healthPort: 8081,
    progressIntervalSeconds: 10,
    workerImage: 'ghcr.io/dat-operator/worker:0.1.0',
    logLevel: 'info',
    concurrency: 10,
    networkPolicy: true,
    operatorNamespace: 'default',
    operatorPodLabels: { 'app.kubernetes.io/name': 'dat-operator' },
    metricsScraper: undefined,
  });
  const np = parseOperatorFlags(['--network-policy=false', '--operator-pod-labels=app.kubernetes.io/name=x,app.kubernetes.io/instance=r'], { POD_NAMESPACE: 'ops' });
  assert.equal(np.networkPolicy, false);
  assert.equal(np.operatorNamespace, 'ops');
  assert.deepEqual(np.operatorPodLabels, { 'app.kubernetes.io/name': 'x', 'app.kubernetes.io/instance': 'r' });
  const chart = parseOperatorFlags(
    ['--leader-elect=true', '--leader-election-namespace=ops', '--metrics-port=9090', '--health-port', '9091', '--progress-interval=5', '--worker-image=w:1', '--log-level=debug', '--namespace=team', '--concurrency=16'],
    { POD_NAMESPACE: 'ignored' },
  );
  assert.equal(chart.leaderElect, true);
  assert.equal(chart.leaderElectionNamespace, 'ops');
  assert.equal(chart.metricsPort, 9090);
  assert.equal(chart.healthPort, 9091);
  assert.equal(chart.progressIntervalSeconds, 5);
  assert.equal(chart.namespace, 'team');
  assert.equal(chart.concurrency, 16);
  assert.equal(parseOperatorFlags(['--leader-elect']).leaderElect, true);
  const scrapers = [
    { argv: ['--metrics-scraper-namespace=monitoring', '--metrics-scraper-pod-labels=app=prometheus'], want: { namespace: 'monitoring', podLabels: { app: 'prometheus' } } },
    { argv: ['--metrics-scraper-namespace=monitoring'], want: { namespace: 'monitoring', podLabels: {} } },
    { argv: ['--metrics-scraper-namespace='], want: undefined },
  ];
  for (const c of scrapers) assert.deepEqual(parseOperatorFlags(c.argv).metricsScraper, c.want, c.argv.join(' '));
  assert.equal(parseOperatorFlags([], { POD_NAMESPACE: 'p' }).leaderElectionNamespace, 'p');
});

test('parseOperatorFlags rejects bad input with the flag named', () => {
  const cases = [
    { argv: ['--nope'], want: /unknown flag --nope/ },
    { argv: ['--metrics-port=abc'], want: /--metrics-port must be an integer/ },
    { argv: ['--leader-elect=yes'], want: /--leader-elect must be true or false/ },
    { argv: ['--kubeconfig'], want: /--kubeconfig needs a value/ },
    { argv: ['stray'], want: /unexpected argument stray/ },
    { argv: ['--operator-pod-labels=novalue'], want: /--operator-pod-labels: "novalue" is not key=value/ },
    { argv: ['--metrics-scraper-pod-labels=app=prometheus'], want: /--metrics-scraper-pod-labels needs --metrics-scraper-namespace/ },
    { argv: ['--metrics-scraper-namespace=m', '--metrics-scraper-pod-labels=x'], want: /--metrics-scraper-pod-labels: "x" is not key=value/ },
  ];
  for (const c of cases) assert.throws(() => parseOperatorFlags(c.argv), c.want, c.argv.join(' '));
});
