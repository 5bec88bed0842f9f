import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyCommands,
  buildLinkPlan,
  buildNetnsExec,
  buildSetupCommands,
  buildTeardownCommands,
  MIN_BURST_BYTES,
  missingPrerequisite,
  parseLinkList,
  parseRate,
} from '../../../bench/lib/netns-link.js';

test('parseRate reads tc rates and rejects the rest', () => {
  const cases: Array<{ name: string; input: string; want: number | RegExp }> = [
    { name: 'mbit', input: '100mbit', want: 1e8 },
    { name: 'gbit', input: '1gbit', want: 1e9 },
    { name: 'fraction, upper case', input: '2.5GBIT', want: 2.5e9 },
    { name: 'kbit', input: '64kbit', want: 64e3 },
    { name: 'bytes unit is not accepted', input: '100mbps', want: /not a tc rate/ },
    { name: 'no unit', input: '1000', want: /not a tc rate/ },
    { name: 'zero', input: '0gbit', want: /must be positive/ },
    { name: 'empty', input: '', want: /not a tc rate/ },
  ];
  for (const c of cases) {
    if (c.want instanceof RegExp) assert.throws(() => parseRate(c.input), c.want, c.name);
    else assert.equal(parseRate(c.input), c.want, c.name);
  }
});

test('parseLinkList splits, validates, and lets the named extras through', () => {
  assert.deepEqual(parseLinkList('1gbit,10gbit'), ['1gbit', '10gbit']);
  assert.deepEqual(parseLinkList(' loopback , 1gbit', ['loopback']), ['loopback', '1gbit']);
  assert.throws(() => parseLinkList('loopback'), /not a tc rate/);
  assert.throws(() => parseLinkList(''), /at least one rate/);
});

test('buildLinkPlan names every host, device and address, and sizes the tbf bucket', () => {
  const plan = buildLinkPlan({ hosts: 3, rate: '1gbit', tag: 'ab12' });
  assert.equal(plan.hubNetns, 'datlink-ab12-hub');
  assert.deepEqual(plan.hosts[2], { rank: 2, netns: 'datlink-ab12-h2', device: 'dlab12h2', hubDevice: 'dlab12s2', address: '10.213.0.3' });
  for (const h of plan.hosts) assert.ok(h.device.length <= 15 && h.hubDevice.length <= 15, 'device names fit IFNAMSIZ');
  assert.equal(plan.burstBytes, 500_000, '4 ms at 1 Gbit/s');
  assert.equal(buildLinkPlan({ hosts: 2, rate: '100mbit', tag: 'x' }).burstBytes, MIN_BURST_BYTES, 'never below a GSO super-packet');
  const bad: Array<{ hosts: number; rate: string; tag: string; want: RegExp }> = [
    { hosts: 1, rate: '1gbit', tag: 'a', want: /hosts must be/ },
    { hosts: 2.5, rate: '1gbit', tag: 'a', want: /hosts must be/ },
    { hosts: 2, rate: '1gbit', tag: 'ABC', want: /tag/ },
    { hosts: 2, rate: '1gbit', tag: 'abcde', want: /tag/ },
    { hosts: 2, rate: 'fast', tag: 'a', want: /not a tc rate/ },
  ];
  for (const b of bad) assert.throws(() => buildLinkPlan(b), b.want, JSON.stringify(b));
});

test('buildSetupCommands: hub bridge, then per host namespace and veth, then tbf on both veth ends', () => {
  const plan = buildLinkPlan({ hosts: 2, rate: '100mbit', tag: 't' });
  const want = [
    'ip netns add datlink-t-hub',
    'ip -n datlink-t-hub link add br0 type bridge',
    'ip -n datlink-t-hub link set br0 up',
    'ip netns add datlink-t-h0',
    'ip -n datlink-t-h0 link set lo up',
    'ip link add dlth0 netns datlink-t-h0 type veth peer name dlts0 netns datlink-t-hub',
    'ip -n datlink-t-hub link set dlts0 master br0',
    'ip -n datlink-t-hub link set dlts0 up',
    'ip -n datlink-t-h0 addr add 10.213.0.1/24 dev dlth0',
    'ip -n datlink-t-h0 link set dlth0 up',
    'ip netns add datlink-t-h1',
    'ip -n datlink-t-h1 link set lo up',
    'ip link add dlth1 netns datlink-t-h1 type veth peer name dlts1 netns datlink-t-hub',
    'ip -n datlink-t-hub link set dlts1 master br0',
    'ip -n datlink-t-hub link set dlts1 up',
    'ip -n datlink-t-h1 addr add 10.213.0.2/24 dev dlth1',
    'ip -n datlink-t-h1 link set dlth1 up',
    'tc -n datlink-t-h0 qdisc add dev dlth0 root tbf rate 100mbit burst 262144 latency 50ms',
    'tc -n datlink-t-hub qdisc add dev dlts0 root tbf rate 100mbit burst 262144 latency 50ms',
    'tc -n datlink-t-h1 qdisc add dev dlth1 root tbf rate 100mbit burst 262144 latency 50ms',
    'tc -n datlink-t-hub qdisc add dev dlts1 root tbf rate 100mbit burst 262144 latency 50ms',
  ];
  assert.deepEqual(buildSetupCommands(plan).map((c) => c.join(' ')), want);
  assert.deepEqual(buildTeardownCommands(plan).map((c) => c.join(' ')), ['ip netns del datlink-t-h0', 'ip netns del datlink-t-h1', 'ip netns del datlink-t-hub']);
  assert.deepEqual(buildNetnsExec(plan, 1, ['node', 'x.js']), ['ip', 'netns', 'exec', 'datlink-t-h1', 'node', 'x.js']);
  assert.throws(() => buildNetnsExec(plan, 2, ['node']), /no host 2/);
});

test('missingPrerequisite says why emulated links cannot run', () => {
  const cases: Array<{ name: string; uid: number | undefined; tools: string[]; want: RegExp | undefined }> = [
    { name: 'root with iproute2', uid: 0, tools: ['ip', 'tc'], want: undefined },
    { name: 'not root', uid: 1000, tools: ['ip', 'tc'], want: /need root.*uid 1000/ },
    { name: 'no tc', uid: 0, tools: ['ip'], want: /need tc on PATH.*iproute2/ },
    { name: 'neither tool', uid: 0, tools: [], want: /need ip and tc/ },
  ];
  for (const c of cases) {
    const got = missingPrerequisite(c.uid, (t) => c.tools.includes(t));
    if (c.want === undefined) assert.equal(got, undefined, c.name);
    else assert.match(got ?? '', c.want, c.name);
  }
});

test('applyCommands stops at the first failure, or runs everything and collects failures when best effort', () => {
  const cmds = [['a'], ['b'], ['c']];
  const ran: string[] = [];
  const run = (argv: readonly string[]): void => {
    ran.push(argv[0]!);
    if (argv[0] === 'b') throw new Error('b failed');
  };
  assert.throws(() => applyCommands(cmds, run), /b failed/);
  assert.deepEqual(ran, ['a', 'b']);
  ran.length = 0;
  const failures = applyCommands(cmds, run, true);
  assert.deepEqual(ran, ['a', 'b', 'c']);
  assert.deepEqual(failures.map((e) => e.message), ['b failed']);
});
