/**
 * The Node.js flags every `dat` process starts with. They go on node's command
 * line: bin/dat.js's shebang (the `dat` command, also a pod's command), the
 * local launcher's spawn and the benchmarks' peers. V8 refuses them in
 * NODE_OPTIONS, and flipping them at run time is unsafe (it crashed a worker
 * once: docs/collective.md).
 *
 * Why `--no-incremental-marking`: the ring's per-message Buffers count as
 * external memory, and V8 answers by marking the old generation incrementally
 * almost all the time, taxing every allocation and write. Off, a rank's CPU per
 * 64 MiB all-reduce about halved; a full collection then pauses once instead.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--no-incremental-marking'];

/** The flags of WORKER_NODE_FLAGS that a process started with `execArgv` lacks. */
export function missingWorkerNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return WORKER_NODE_FLAGS.filter((f) => !execArgv.includes(f));
}

/** `execArgv` with the missing worker flags in front: the node options for a peer process. */
export function withWorkerNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return [...missingWorkerNodeFlags(execArgv), ...execArgv];
}
