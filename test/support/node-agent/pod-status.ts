/**
 * Pod status as kubelet reports it, computed purely from the agent's view of
 * each container. Times are RFC 3339 strings: the result is sent as a JSON
 * merge patch of the pod's status subresource.
 */

/** A container's state in the agent (mirrors `V1ContainerState`, with string times). */
export type ContainerStateView =
  | { readonly waiting: { readonly reason: string; readonly message?: string } }
  | { readonly running: { readonly startedAt: string } }
  | {
      readonly terminated: {
        readonly exitCode: number;
        readonly signal?: number;
        readonly reason: string;
        readonly message?: string;
        readonly startedAt: string;
        readonly finishedAt: string;
        readonly containerID?: string;
      };
    };

/** Everything the status needs to know about one container. */
export interface ContainerView {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerStateView;
  readonly lastState?: ContainerStateView;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly containerID?: string;
  /** True when the container will not be started again (policy, or pod terminating). */
  readonly final: boolean;
}

/** Pod phases. */
export const PodPhase = {
  Pending: 'Pending',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
/** A pod phase. */
export type PodPhase = (typeof PodPhase)[keyof typeof PodPhase];

/** A pod-level failure that ends the pod before any container runs (bad image, bad config). */
export interface PodFailure {
  readonly reason: string;
  readonly message: string;
}

/**
 * Computes the phase: Failed on a pod-level failure; once every container is
 * final, Succeeded if all exited 0 else Failed; Running when any container is
 * running or will be restarted; else Pending.
 */
export function computePhase(containers: readonly ContainerView[], failure: PodFailure | undefined): PodPhase {
  if (failure !== undefined) return PodPhase.Failed;
  if (containers.length > 0 && containers.every((c) => c.final && 'terminated' in c.state)) {
    return containers.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0) ? PodPhase.Succeeded : PodPhase.Failed;
  }
  const started = containers.some((c) => 'running' in c.state || c.restartCount > 0 || 'terminated' in c.state);
  return started ? PodPhase.Running : PodPhase.Pending;
}

/** A pod condition as sent in the patch. */
export interface ConditionView {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly lastTransitionTime: string;
  readonly reason?: string;
}

/**
 * Returns `prev` with `type` set to `status`, keeping lastTransitionTime when
 * the status did not flip.
 */
export function setCondition(prev: readonly ConditionView[], type: string, status: boolean, now: string, reason?: string): ConditionView[] {
  const s = status ? 'True' : 'False';
  const old = prev.find((c) => c.type === type);
  const next: ConditionView = { type, status: s, lastTransitionTime: old !== undefined && old.status === s ? old.lastTransitionTime : now, ...(reason === undefined ? {} : { reason }) };
  return [...prev.filter((c) => c.type !== type), next];
}

/** Input of {@link buildPodStatus}. */
export interface PodStatusInput {
  readonly containers: readonly ContainerView[];
  readonly failure?: PodFailure;
  readonly podIP: string;
  readonly hostIP: string;
  readonly startTime: string;
  readonly conditions: readonly ConditionView[];
  readonly now: string;
}

/** Builds the status patch body and the updated conditions (to be kept for the next call). */
export function buildPodStatus(input: PodStatusInput): { status: Record<string, unknown>; conditions: ConditionView[]; phase: PodPhase } {
  const phase = computePhase(input.containers, input.failure);
  const allReady = input.containers.length > 0 && input.containers.every((c) => c.ready) && phase === PodPhase.Running;
  const reason = allReady ? undefined : 'ContainersNotReady';
  let conditions = [...input.conditions];
  conditions = setCondition(conditions, 'PodScheduled', true, input.now);
  conditions = setCondition(conditions, 'PodReadyToStartContainers', input.failure === undefined, input.now);
  conditions = setCondition(conditions, 'Initialized', true, input.now);
  conditions = setCondition(conditions, 'ContainersReady', allReady, input.now, reason);
  conditions = setCondition(conditions, 'Ready', allReady, input.now, reason);
  const status: Record<string, unknown> = {
    phase,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    startTime: input.startTime,
    conditions,
    containerStatuses: input.containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `local://${c.image}`,
      ...(c.containerID === undefined ? {} : { containerID: c.containerID }),
      ready: c.ready,
      started: 'running' in c.state,
      restartCount: c.restartCount,
      state: c.state,
      ...(c.lastState === undefined ? {} : { lastState: c.lastState }),
    })),
  };
  if (input.podIP !== '') {
    status.podIP = input.podIP;
    status.podIPs = [{ ip: input.podIP }];
  }
  if (input.failure !== undefined) {
    status.reason = input.failure.reason;
    status.message = input.failure.message;
  }
  return { status, conditions, phase };
}
