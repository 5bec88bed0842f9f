/**
 * The emulated link against the real kernel: two namespaces joined through
 * the bridge, shaped to 100 Mbit/s, carry a TCP stream at about that rate
 * (and far below what an unshaped veth carries), and vanish on close.
 * Needs root and iproute2; skipped with the reason otherwise. Several processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createEmulatedLinks, isOnPath, missingPrerequisite } from '../../../bench/lib/netns-link.js';

const RATE = '100mbit';
const RATE_BPS = 100e6;
/** ~0.6 s at the rate: long against the 256 KiB bucket (about 3% of it). */
const BYTES = 8 * 1024 * 1024;
/** Goodput of TCP through tbf is a few percent under the rate; a loaded machine can slow it further, never speed it up. */
const BAND = { min: 0.6, max: 1.05 } as const;

const SERVER = `
const net = require('node:net');
const [host, want] = [process.argv[1], Number(process.argv[2])];
const server = net.createServer((s) => {
  let got = 0; let t0;
  s.on('data', (b) => { if (t0 === undefined) t0 = process.hrtime.bigint(); got += b.length;
    if (got >= want) { console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: got })); process.exit(0); } });
});
server.listen(5201, host, () => console.log(JSON.stringify({ listening: true })));
`;
const CLIENT = `
const net = require('node:net');
const [host, n] = [process.argv[1], Number(process.argv[2])];
const s = net.connect(5201, host, () => { s.end(Buffer.alloc(n, 7)); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

test('a tbf-shaped emulated link carries TCP at its rate, inside its namespaces only, and is removed on close', { skip: missingPrerequisite(process.getuid?.(), isOnPath), timeout: 60_000 }, async (t) => {
  const links = createEmulatedLinks({ hosts: 2, rate: RATE });
  try {
    const [h0, h1] = links.plan.hosts as [(typeof links.plan.hosts)[0], (typeof links.plan.hosts)[0]];
    const rootAddrs = execFileSync('ip', ['-o', 'addr', 'show']).toString();
    assert.ok(!rootAddrs.includes(h0.address) && !rootAddrs.includes(h1.address), 'no link address in the root namespace');
    const server = spawn('ip', ['netns', 'exec', h1.netns, process.execPath, '-e', SERVER, h1.address, String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
    assert.deepEqual(JSON.parse((await lines.next()).value as string), { listening: true });
    const client = spawn('ip', ['netns', 'exec', h0.netns, process.execPath, '-e', CLIENT, h1.address, String(BYTES)], { stdio: 'inherit' });
    const result = JSON.parse((await lines.next()).value as string) as { seconds: number; bytes: number };
    await new Promise((resolve) => (client.exitCode !== null ? resolve(null) : client.once('exit', resolve)));
    const ratio = (result.bytes * 8) / result.seconds / RATE_BPS;
    t.diagnostic(`measured ${((result.bytes * 8) / result.seconds / 1e6).toFixed(1)} Mbit/s on a ${RATE} link`);
    assert.ok(ratio >= BAND.min && ratio <= BAND.max, `measured ${((result.bytes * 8) / result.seconds / 1e6).toFixed(1)} Mbit/s on a ${RATE} link (ratio ${ratio.toFixed(3)}, band [${BAND.min}, ${BAND.max}])`);
  } finally {
    links.close();
  }
  const left = execFileSync('ip', ['netns', 'list']).toString();
  for (const ns of [links.plan.hubNetns, ...links.plan.hosts.map((h) => h.netns)]) assert.ok(!left.includes(ns), `${ns} removed`);
});
