/**
 * The real `kubectl` and `helm` binaries pointed at the cluster under test
 * (KUBECONFIG): the e2e suite drives every user-facing step through them, so
 * the commands of docs/cluster.md are the ones exercised.
 */
import { runChecked, runCommand, type CommandResult, type RunCommandOptions } from './command.js';
import { findTool } from './toolchain.js';

/** A Kubernetes list as `kubectl get -o json` prints it. */
export interface KubeList<T> {
  readonly items: T[];
}

/** Options of one CLI call. */
export interface CliCallOptions {
  readonly namespace?: string;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** `kubectl` and `helm` bound to one kubeconfig. */
export class KubeCli {
  readonly kubeconfigPath: string;
  private readonly kubectlBin: string;
  private readonly helmBin: string;

  constructor(kubeconfigPath: string) {
    this.kubeconfigPath = kubeconfigPath;
    this.kubectlBin = findTool('kubectl');
    this.helmBin = findTool('helm');
  }

  private options(opts: CliCallOptions): RunCommandOptions {
    return {
      env: { KUBECONFIG: this.kubeconfigPath },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    };
  }

  /** Puts `--namespace` first: after the arguments it would land behind `exec ... --`. */
  private static withNamespace(args: readonly string[], namespace: string | undefined): string[] {
    return namespace === undefined ? [...args] : ['--namespace', namespace, ...args];
  }

  /** `kubectl args...`; throws unless it exits 0. */
  async kubectl(args: readonly string[], opts: CliCallOptions = {}): Promise<string> {
    const r = await runChecked(this.kubectlBin, KubeCli.withNamespace(args, opts.namespace), this.options(opts));
    return r.stdout;
  }

  /** `kubectl args...` without throwing (for steps whose failure is the assertion). */
  kubectlResult(args: readonly string[], opts: CliCallOptions = {}): Promise<CommandResult> {
    return runCommand(this.kubectlBin, KubeCli.withNamespace(args, opts.namespace), this.options(opts));
  }

  /** `kubectl get <what> -o json`, parsed. */
  async getJson<T>(what: readonly string[], opts: CliCallOptions = {}): Promise<T> {
    return JSON.parse(await this.kubectl(['get', ...what, '-o', 'json'], opts)) as T;
  }

  /** `kubectl get <what> -o json`, or undefined when the object does not exist. */
  async getJsonIfExists<T>(what: readonly string[], opts: CliCallOptions = {}): Promise<T | undefined> {
    const r = await this.kubectlResult(['get', ...what, '-o', 'json', '--ignore-not-found'], opts);
    if (r.code !== 0) throw new Error(`kubectl get ${what.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as T);
  }

  /** `kubectl get --raw <path>` (e.g. the API server's pod proxy). */
  async getRaw(path: string, timeoutMs = 10_000): Promise<string> {
    return this.kubectl(['get', '--raw', path, `--request-timeout=${Math.ceil(timeoutMs / 1000)}s`], { timeoutMs: timeoutMs + 5_000 });
  }

  /** `kubectl apply -f <file>` (or `-f -` with `yaml` on stdin). */
  async apply(source: { file: string } | { yaml: string }, opts: CliCallOptions & { dryRun?: 'server' } = {}): Promise<string> {
    const args = ['apply', '-f', 'file' in source ? source.file : '-'];
    if (opts.dryRun !== undefined) args.push(`--dry-run=${opts.dryRun}`);
    return this.kubectl(args, { ...opts, ...('yaml' in source ? { input: source.yaml } : {}) });
  }

  /** `helm args...`; throws unless it exits 0. */
  async helm(args: readonly string[], opts: CliCallOptions = {}): Promise<string> {
    const r = await runChecked(this.helmBin, KubeCli.withNamespace(args, opts.namespace), this.options({ timeoutMs: 300_000, ...opts }));
    return r.stdout;
  }
}
