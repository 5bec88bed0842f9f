/**
 * A container's environment and command line as kubelet computes them: env
 * vars with `valueFrom` (fieldRef, secretKeyRef, configMapKeyRef), `envFrom`,
 * and `$(VAR)` expansion in values, command and args.
 */
import type { V1Container, V1ObjectFieldSelector, V1Pod } from '@kubernetes/client-node';
import { DatError } from '../../../common/errors.js';

/** Reads one key of a Secret or ConfigMap in the pod's namespace (`undefined` when absent). */
export type KeyLookup = (kind: 'Secret' | 'ConfigMap', name: string, key: string) => Promise<string | undefined>;
/** Reads all keys of a Secret or ConfigMap (`undefined` when the object is absent). */
export type MapLookup = (kind: 'Secret' | 'ConfigMap', name: string) => Promise<Record<string, string> | undefined>;

/** Thrown when a referenced key is missing and not optional (kubelet: CreateContainerConfigError). */
export class ContainerConfigError extends DatError {
  constructor(message: string) {
    // Retryable: the referenced object may be created after the pod, as kubelet retries.
    super(message, { retryable: true });
  }
}

const LABEL_OR_ANNOTATION = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** Resolves a downward-API field path against the pod (as set by the agent, incl. its IP). */
export function resolveFieldRef(pod: V1Pod, ref: V1ObjectFieldSelector): string {
  const path = ref.fieldPath;
  const m = LABEL_OR_ANNOTATION.exec(path);
  if (m !== null) {
    const map = m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[m[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    default:
      throw new ContainerConfigError(`unsupported fieldRef ${path}`);
  }
}

/** Expands `$(NAME)` from `env` as kubelet does: unknown names stay literal, `$$` escapes. */
export function expandVars(s: string, env: Readonly<Record<string, string>>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? whole;
  });
}

/**
 * Builds the container env: `base` (agent-provided, e.g. PATH and
 * KUBERNETES_SERVICE_HOST), then envFrom, then env in order, each value expanded
 * against what came before.
 * @throws ContainerConfigError when a non-optional reference is missing.
 */
export async function buildContainerEnv(
  pod: V1Pod,
  container: V1Container,
  base: Readonly<Record<string, string>>,
  lookupKey: KeyLookup,
  lookupMap: MapLookup,
): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...base };
  for (const src of container.envFrom ?? []) {
    const kind = src.secretRef !== undefined ? 'Secret' : 'ConfigMap';
    const ref = src.secretRef ?? src.configMapRef;
    if (ref === undefined) continue;
    const data = await lookupMap(kind, ref.name ?? '');
    if (data === undefined) {
      if (ref.optional === true) continue;
      throw new ContainerConfigError(`${kind.toLowerCase()} "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[`${src.prefix ?? ''}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expandVars(e.value ?? '', env);
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef !== undefined) {
      env[e.name] = resolveFieldRef(pod, vf.fieldRef);
    } else if (vf.secretKeyRef !== undefined || vf.configMapKeyRef !== undefined) {
      const kind = vf.secretKeyRef !== undefined ? 'Secret' : 'ConfigMap';
      const ref = vf.secretKeyRef ?? vf.configMapKeyRef;
      const v = ref === undefined ? undefined : await lookupKey(kind, ref.name ?? '', ref.key);
      if (v === undefined) {
        if (ref?.optional === true) continue;
        throw new ContainerConfigError(`${kind.toLowerCase()} "${ref?.name}" key "${ref?.key}" not found (env ${e.name})`);
      }
      env[e.name] = v;
    } else {
      // resourceFieldRef: report the limit/request if literal, else leave unset as there is no cgroup to read.
      const rf = vf.resourceFieldRef;
      const [kind, res] = (rf?.resource ?? '').split('.');
      const q = kind === 'limits' ? container.resources?.limits?.[res ?? ''] : container.resources?.requests?.[res ?? ''];
      if (q !== undefined) env[e.name] = String(q);
    }
  }
  return env;
}

/** The container's command and args after `$(VAR)` expansion. */
export function expandCommand(container: V1Container, env: Readonly<Record<string, string>>): { command: string[]; args: string[] } {
  return {
    command: (container.command ?? []).map((s) => expandVars(s, env)),
    args: (container.args ?? []).map((s) => expandVars(s, env)),
  };
}
