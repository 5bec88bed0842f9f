import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CGROUP_CPU_FILES, containerCpuLimit, cpusFromCgroupV2, sizeTensorFlowThreadPools, TF_THREAD_ENV } from '../../../../worker/backend/native/thread-pools.js';

/** A file system holding only `files`. */
const fs =
  (files: Record<string, string>) =>
  (path: string): string | undefined =>
    files[path];

describe('cpusFromCgroupV2', () => {
  const cases: Array<{ text: string; want: number | undefined }> = [
    { text: 'max 100000\n', want: undefined },
    { text: '200000 100000\n', want: 2 },
    { text: '150000 100000', want: 2 },
    { text: '50000 100000', want: 1 },
    { text: '', want: undefined },
    { text: 'garbage', want: undefined },
  ];
  for (const c of cases) it(JSON.stringify(c.text), () => assert.equal(cpusFromCgroupV2(c.text), c.want));
});

describe('containerCpuLimit', () => {
  const cases: Array<{ name: string; files: Record<string, string>; want: number | undefined }> = [
    { name: 'cgroup v2 limit', files: { [CGROUP_CPU_FILES.v2]: '400000 100000' }, want: 4 },
    { name: 'cgroup v2 without limit', files: { [CGROUP_CPU_FILES.v2]: 'max 100000' }, want: undefined },
    { name: 'cgroup v1 limit', files: { [CGROUP_CPU_FILES.v1Quota]: '300000\n', [CGROUP_CPU_FILES.v1Period]: '100000\n' }, want: 3 },
    { name: 'cgroup v1 without limit (-1)', files: { [CGROUP_CPU_FILES.v1Quota]: '-1', [CGROUP_CPU_FILES.v1Period]: '100000' }, want: undefined },
    { name: 'no cgroup files', files: {}, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(containerCpuLimit(fs(c.files)), c.want));
});

describe('sizeTensorFlowThreadPools', () => {
  const limit2 = fs({ [CGROUP_CPU_FILES.v2]: '200000 100000' });
  const cases: Array<{ name: string; env: NodeJS.ProcessEnv; hostCpus: number; want: number | undefined; wantEnv: Record<string, string | undefined> }> = [
    { name: 'a limit below the host cores sizes both pools', env: {}, hostCpus: 64, want: 2, wantEnv: { [TF_THREAD_ENV.intraOp]: '2', [TF_THREAD_ENV.interOp]: '2' } },
    { name: 'a limit at the host cores changes nothing', env: {}, hostCpus: 2, want: undefined, wantEnv: { [TF_THREAD_ENV.intraOp]: undefined, [TF_THREAD_ENV.interOp]: undefined } },
    { name: "the user's intra-op choice wins", env: { [TF_THREAD_ENV.intraOp]: '8' }, hostCpus: 64, want: undefined, wantEnv: { [TF_THREAD_ENV.intraOp]: '8', [TF_THREAD_ENV.interOp]: undefined } },
    { name: "the user's inter-op choice wins", env: { [TF_THREAD_ENV.interOp]: '1' }, hostCpus: 64, want: undefined, wantEnv: { [TF_THREAD_ENV.intraOp]: undefined, [TF_THREAD_ENV.interOp]: '1' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const env = { ...c.env };
      assert.equal(sizeTensorFlowThreadPools(env, c.hostCpus, limit2), c.want);
      for (const [k, v] of Object.entries(c.wantEnv)) assert.equal(env[k], v, k);
    });
  }
});
