/**
 * Shared steps of the e2e scenarios: a namespace with the example PVC, a job
 * applied with kubectl, and the logs worth printing when a scenario fails.
 */
import type { TestContext } from 'node:test';
import type { DATJob } from '../../../operator/api/types.js';
import { workerPodName } from '../../../operator/names.js';
import { getErrorMessage } from '../../../common/errors.js';
import { describeDATJob, listJobPods } from './datjob-observer.js';
import { EXAMPLES, deriveJob, examplePvcName, examplePvcYaml, loadMnistJob, type DeepPartial } from './examples.js';
import { KubeCli } from './kube-cli.js';
import { listOperatorPods, RELEASE } from './operator-release.js';
import type { ClusterProvider } from './provider.js';

/** Log tail printed per pod on failure. */
const LOG_TAIL_LINES = 60;

/** The cluster, its CLIs and the example job every scenario starts from. */
export class E2EContext {
  readonly provider: ClusterProvider;
  readonly cli: KubeCli;
  /** The example PVC's claim name (the checkpoint volume of every scenario's job). */
  readonly pvcName = examplePvcName();
  /** examples/datjob-mnist.yaml as parsed. */
  readonly mnistJob: DATJob = loadMnistJob();
  private readonly namespaces: string[] = [];

  constructor(provider: ClusterProvider) {
    this.provider = provider;
    this.cli = new KubeCli(provider.kubeconfigPath);
  }

  /** `kubectl create namespace <ns>` and `kubectl apply -f examples/pvc.yaml -n <ns>`. */
  async createNamespaceWithPvc(namespace: string): Promise<void> {
    await this.cli.kubectl(['create', 'namespace', namespace]);
    this.namespaces.push(namespace);
    if (this.provider.pvcAccessMode === undefined) await this.cli.apply({ file: EXAMPLES.pvc }, { namespace });
    else await this.cli.apply({ yaml: examplePvcYaml(this.provider.pvcAccessMode) }, { namespace });
  }

  /** Applies the example job renamed to `name` with `spec` patched (`kubectl apply -f -`). */
  async applyDerivedJob(namespace: string, name: string, spec: DeepPartial<DATJob['spec']>): Promise<DATJob> {
    const { job, yaml } = deriveJob(this.mnistJob, name, spec);
    await this.cli.apply({ yaml }, { namespace });
    return job;
  }

  /**
   * Runs a scenario; on failure prints the job's status and events, the
   * operator's and the workers' logs, then rethrows. Reports the duration.
   */
  async scenario(t: TestContext, namespace: string, jobName: string, body: () => Promise<void>): Promise<void> {
    const started = Date.now();
    try {
      await body();
    } catch (err) {
      t.diagnostic(await this.diagnostics(namespace, jobName));
      throw err;
    } finally {
      t.diagnostic(`scenario took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // A job left running (a failed scenario) would hold CPU requests the next scenario's pods need.
      await this.cli.kubectlResult(['delete', 'datjobs', '--all', '--wait=false'], { namespace });
    }
  }

  /** What a person debugging a failed scenario would look at first. */
  async diagnostics(namespace: string, jobName: string): Promise<string> {
    const parts: string[] = [];
    const safe = async (label: string, f: () => Promise<string>): Promise<void> => {
      try {
        parts.push(`--- ${label}\n${await f()}`);
      } catch (err) {
        parts.push(`--- ${label}: unavailable (${getErrorMessage(err)})`);
      }
    };
    await safe(`DATJob ${namespace}/${jobName}`, () => describeDATJob(this.cli, namespace, jobName));
    await safe('pods', async () =>
      (await listJobPods(this.cli, namespace, jobName))
        .map((p) => `${p.metadata?.name} ${JSON.stringify(p.metadata?.labels)} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state ?? {})}`)
        .join('\n'),
    );
    for (const op of await listOperatorPods(this.cli).catch(() => [])) {
      const name = op.metadata?.name ?? '';
      await safe(`operator ${name} logs`, async () => tail(await this.provider.podLogs(RELEASE.namespace, name)));
    }
    const ranks = this.mnistJob.spec.workers.replicas;
    for (let r = 0; r < ranks; r++) {
      const pod = workerPodName(jobName, r);
      await safe(`${pod} logs`, async () => tail(await this.provider.podLogs(namespace, pod)));
    }
    return parts.join('\n');
  }

  /** Deletes the namespaces the scenarios created (without waiting) and stops the provider. */
  async cleanup(): Promise<void> {
    for (const ns of this.namespaces) {
      await this.cli.kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    }
    await this.provider.stop();
  }
}

function tail(text: string): string {
  return text.split('\n').slice(-LOG_TAIL_LINES).join('\n');
}
