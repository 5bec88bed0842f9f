/**
 * scripts/prometheus/install-prometheus.sh without building anything: a
 * stamped binary in the cache is kept (no Go needed: the warm path of every
 * `npm test` and `cluster.sh up`); a missing or stale one needs the Go
 * toolchain and says so; unknown arguments are refused. The cold build itself
 * runs in scripts/test.sh, and test/charts/ uses what it built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { readPrometheusVersions } from '../support/prometheus-tools.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'prometheus', 'install-prometheus.sh');
/** A PATH with bash and coreutils but no `go` (it lives under /usr/local/go here). */
const PATH_WITHOUT_GO = '/usr/sbin:/usr/bin:/sbin:/bin';

test('install-prometheus.sh keeps stamped binaries, needs Go for missing or stale ones, refuses unknown arguments', () => {
  const v = readPrometheusVersions();
  const rev = v.PROMETHEUS_TOOLS_REV ?? '';
  const version = v.PROMETHEUS_MODULE_VERSION ?? '';
  // Prometheus 3.MM.P is tagged v0.3MM.P as a Go module.
  const [major, minor, patch] = (v.PROMETHEUS_VERSION ?? '').split('.');
  assert.equal(major, '3');
  assert.equal(version, `v0.3${(minor ?? '').padStart(2, '0')}.${patch}`, 'PROMETHEUS_VERSION matches the module tag');

  const cases: { name: string; stamps: Record<string, string>; args: string[]; wantCode: number; want: RegExp }[] = [
    { name: 'both stamped: nothing to build', stamps: { promtool: version, prometheus: version }, args: [], wantCode: 0, want: new RegExp(`prometheus/${rev}/bin\\n$`) },
    { name: 'promtool alone, stamped', stamps: { promtool: version }, args: ['promtool'], wantCode: 0, want: /bin\n$/ },
    { name: 'server missing: needs Go', stamps: { promtool: version }, args: [], wantCode: 1, want: /the Go toolchain \(go >= 1\.26\) is required/ },
    { name: 'stale stamp: rebuilt, so needs Go', stamps: { promtool: 'v0.300.0' }, args: ['promtool'], wantCode: 1, want: /the Go toolchain/ },
    { name: 'unknown argument', stamps: {}, args: ['alertmanager'], wantCode: 1, want: /unknown argument alertmanager/ },
  ];
  for (const c of cases) {
    const cache = mkdtempSync(join(tmpdir(), 'install-prometheus-'));
    try {
      const bin = join(cache, 'prometheus', rev, 'bin');
      mkdirSync(bin, { recursive: true });
      for (const [name, stamp] of Object.entries(c.stamps)) {
        writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
        chmodSync(join(bin, name), 0o755);
        writeFileSync(join(bin, `.${name}.installed`), `${stamp}\n`);
      }
      const r = spawnSync('bash', [SCRIPT, ...c.args], { encoding: 'utf8', env: { ...process.env, DAT_CACHE: cache, PATH: PATH_WITHOUT_GO }, timeout: 30_000 });
      assert.equal(r.status, c.wantCode, `${c.name}: exit ${r.status}\n${r.stdout}${r.stderr}`);
      assert.match(c.wantCode === 0 ? r.stdout : r.stderr, c.want, c.name);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }
});
