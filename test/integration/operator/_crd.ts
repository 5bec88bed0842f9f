/** Installing the DATJob CRD from crds/datjob.yaml into a test control plane. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { DATJob } from '../../../operator/api/types.js';
import { GROUP, PLURAL, VERSION } from '../../../operator/constants.js';
import type { ControlPlane } from '../../support/control-plane.js';
import { REPO_ROOT } from '../../support/paths.js';
import { waitFor } from '../../support/kube.js';

/**
 * Creates the CRD with kubectl and waits until it is Established (its API is
 * served). Not through client-node: its typed serializer drops the schema keys
 * whose TypeScript names differ (`enum`, `default`, `x-kubernetes-validations`).
 */
export async function installDATJobCRD(cp: Pick<ControlPlane, 'kubeConfig' | 'kubeconfigPath' | 'binDir'>): Promise<void> {
  const kc = cp.kubeConfig;
  const file = join(REPO_ROOT, 'crds', 'datjob.yaml');
  execFileSync(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'create', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const body = parse(readFileSync(file, 'utf8')) as V1CustomResourceDefinition;
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const name = body.metadata!.name!;
  await waitFor(
    async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;
    },
    { description: `CRD ${name} Established`, timeoutMs: 30_000 },
  );
  // Discovery of the new group can lag the condition by a moment: list once successfully.
  const custom = kc.makeApiClient(CustomObjectsApi);
  await waitFor(() => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }).then(() => true), {
    description: 'datjobs API served',
  });
}

/** Typed DATJob calls for tests. */
export class DATJobs {
  private readonly api: CustomObjectsApi;
  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }
  async create(job: DATJob): Promise<DATJob> {
    const namespace = job.metadata.namespace ?? 'default';
    return (await this.api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body: job })) as DATJob;
  }
  async get(namespace: string, name: string): Promise<DATJob> {
    return (await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as DATJob;
  }
  async replace(job: DATJob): Promise<DATJob> {
    const namespace = job.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    return (await this.api.replaceNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: job })) as DATJob;
  }
  async delete(namespace: string, name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, propagationPolicy: 'Background' });
  }
}
