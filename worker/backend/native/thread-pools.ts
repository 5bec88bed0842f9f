/**
 * Sizes libtensorflow's thread pools to the container's CPU limit.
 *
 * TensorFlow 2.9 sizes its intra- and inter-op pools from the host's cores,
 * not from the cgroup quota: a worker limited to 2 CPUs on a 64-core node
 * would run 64 threads per pool and spend its quota on contention (on the
 * 2-core dev machine, under load, one intra-op thread used 113-138 ms of CPU
 * per small-CNN PGD-10 step against 162-198 ms with two; docs/native-backend.md).
 * libtensorflow reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS when it
 * loads, so they are set before the native package is imported, and only when
 * the user set neither.
 */

/** The environment variables libtensorflow reads. */
export const TF_THREAD_ENV = { intraOp: 'TF_NUM_INTRAOP_THREADS', interOp: 'TF_NUM_INTEROP_THREADS' } as const;

/** cgroup files holding the CPU quota: v2's `cpu.max`, v1's quota and period. */
export const CGROUP_CPU_FILES = {
  v2: '/sys/fs/cgroup/cpu.max',
  v1Quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  v1Period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
} as const;

/**
 * CPUs allowed by a quota of `quota` µs per `period` µs, rounded up; undefined
 * for no limit (v2 `max`, v1 `-1`) or anything unparsable.
 */
export function cpusFromQuota(quota: string, period: string): number | undefined {
  const q = Number(quota.trim());
  const p = Number(period.trim());
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

/** The CPU limit in v2 `cpu.max` text ("<quota|max> <period>"). */
export function cpusFromCgroupV2(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  return quota === undefined || period === undefined ? undefined : cpusFromQuota(quota, period);
}

/** Reads a file as text, or undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | undefined;

/** The container's CPU limit (cgroup v2, then v1), or undefined when there is none. */
export function containerCpuLimit(read: ReadText): number | undefined {
  const v2 = read(CGROUP_CPU_FILES.v2);
  if (v2 !== undefined) return cpusFromCgroupV2(v2);
  const quota = read(CGROUP_CPU_FILES.v1Quota);
  const period = read(CGROUP_CPU_FILES.v1Period);
  return quota === undefined || period === undefined ? undefined : cpusFromQuota(quota, period);
}

/**
 * Sets both pool sizes to the CPU limit when it is below the host's core
 * count and the user chose neither; returns the size set, or undefined.
 */
export function sizeTensorFlowThreadPools(env: NodeJS.ProcessEnv, hostCpus: number, read: ReadText): number | undefined {
  if (env[TF_THREAD_ENV.intraOp] !== undefined || env[TF_THREAD_ENV.interOp] !== undefined) return undefined;
  const limit = containerCpuLimit(read);
  if (limit === undefined || limit >= hostCpus) return undefined;
  env[TF_THREAD_ENV.intraOp] = String(limit);
  env[TF_THREAD_ENV.interOp] = String(limit);
  return limit;
}
