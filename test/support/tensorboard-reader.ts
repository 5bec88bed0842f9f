/**
 * Reads TensorBoard log directories with the real `tensorboard` Python
 * package, installed by scripts/install-tensorboard-venv.sh into a cached
 * venv (the script is a no-op once the venv is in place). When the venv
 * cannot be made, the test fails with the script's reason: a silent skip
 * would let a broken writer pass CI.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';

const run = promisify(execFile);

/** One scalar as TensorBoard's EventAccumulator returns it. */
export interface TbScalar {
  readonly step: number;
  readonly wallTime: number;
  readonly value: number;
}

/** A tensor summary (the text plugin's) as TensorBoard returns it. */
export interface TbTensorSeries {
  readonly plugin: string;
  readonly dataClass: number;
  readonly events: readonly { readonly step: number; readonly wallTime: number; readonly dtype: number; readonly dims: number; readonly strings: readonly string[] }[];
}

/** What read-tensorboard.py prints. */
export interface TbLogDir {
  /** Raw events per file, in file order (kind: the Event's `what` oneof). */
  readonly files: Readonly<Record<string, readonly { readonly step: number; readonly wallTime: number; readonly kind: string; readonly fileVersion: string | null }[]>>;
  readonly scalars: Readonly<Record<string, readonly TbScalar[]>>;
  readonly tensors: Readonly<Record<string, TbTensorSeries>>;
}

let python: Promise<string> | undefined;

/** The venv's python (installing the venv on first use). */
export function tensorboardPython(): Promise<string> {
  python ??= run('bash', [join(REPO_ROOT, 'scripts', 'install-tensorboard-venv.sh')], { maxBuffer: 1 << 20 }).then(
    (r) => r.stdout.trim().split('\n').at(-1)!,
    (err: { stderr?: string; message: string }) => {
      throw new Error(`the tensorboard venv could not be created (scripts/install-tensorboard-venv.sh): ${err.stderr?.trim() || err.message}`);
    },
  );
  return python;
}

/** Every event, scalar and tensor of `logDir`, as TensorBoard reads them. */
export async function readTensorBoard(logDir: string): Promise<TbLogDir> {
  const py = await tensorboardPython();
  const { stdout } = await run(py, [join(REPO_ROOT, 'test', 'support', 'read-tensorboard.py'), logDir], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as TbLogDir;
}
