/**
 * Runs one pod as real local processes (one per container), each in its own
 * mount + UTS namespace where the pod's hosts file covers /etc/hosts and its
 * volumes are bind-mounted at their mount paths; restarts containers per
 * restartPolicy and reports status to the API server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as osConstants } from 'node:os';
import type { CoreV1Api, V1Container, V1Pod, V1Probe } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { getErrorMessage } from '../../../common/errors.js';
import { buildContainerEnv, ContainerConfigError, expandCommand } from './env.js';
import { buildPodStatus, PodPhase, type ConditionView, type ContainerStateView, type ContainerView, type PodFailure } from './pod-status.js';
import { buildMounts, prepareServiceAccountDir, prepareVolume, SERVICE_ACCOUNT_MOUNT_PATH, type BindMount, type VolumeSources } from './volumes.js';

/** How the agent runs an image: maps the container's command/args to a local argv. */
export interface ImageHandler {
  /** The local argv for the container's (expanded) `command` and `args`. */
  resolve(command: readonly string[], args: readonly string[]): string[];
  /** Working directory of the process. @default the agent process's cwd */
  readonly cwd?: string;
  /** Extra environment, below the pod's own env (the pod's values win). @default {} */
  readonly env?: Readonly<Record<string, string>>;
}

/** Image repository prefix (e.g. `ghcr.io/dat-operator/worker`) → handler; the longest matching prefix wins. */
export type ImageMap = Readonly<Record<string, ImageHandler>>;

/** What a runner needs from its agent. */
export interface RunnerContext {
  readonly core: CoreV1Api;
  readonly imageMap: ImageMap;
  readonly volumeSources: VolumeSources;
  /** Environment every container starts from (PATH, KUBERNETES_SERVICE_HOST/PORT, ...). */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly hostIP: string;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
  /** How long a missing Secret/ConfigMap is waited for before the pod fails. */
  readonly configWaitMs: number;
  /** Log file of a container. */
  logPath(namespace: string, pod: string, container: string): string;
  /** Writes the pod's hosts file (called before the first container starts and on every DNS change). */
  writeHosts(runner: PodRunner): void;
  /** Creates a missing bind-mount target on the host (removed again when the agent stops). */
  ensureMountPoint(target: string, isFile: boolean): void;
  /** Readiness or phase changed (DNS may change). */
  onChange(): void;
  log(msg: string, kv?: Record<string, unknown>): void;
}

/** Public view of a pod's process, for fault injection and assertions. */
export interface PodProcessInfo {
  readonly namespace: string;
  readonly name: string;
  readonly container: string;
  /** PID (= process group id) of the current process, if running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly restartCount: number;
  readonly podIP: string;
  readonly logPath: string;
}

interface ContainerRun {
  readonly spec: V1Container;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  mounts: BindMount[];
  child: ChildProcess | undefined;
  state: ContainerStateView;
  lastState: ContainerStateView | undefined;
  restartCount: number;
  ready: boolean;
  final: boolean;
  startedAt: string;
  probeTimer: NodeJS.Timeout | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  probeFailures: number;
  exited: Promise<void>;
}

const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Single-quotes a string for /bin/sh. */
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

/** The image handler for `image` (longest matching prefix), or undefined. */
export function findImageHandler(imageMap: ImageMap, image: string): ImageHandler | undefined {
  const key = Object.keys(imageMap)
    .filter((k) => image === k || image.startsWith(k))
    .sort((a, b) => b.length - a.length)[0];
  return key === undefined ? undefined : imageMap[key];
}

/** True when a bind-mount source is a file (its mount point must then be a file too). */
export function isFileSource(source: string): boolean {
  try {
    return statSync(source).isFile();
  } catch {
    // A missing source fails at mount time with mount's own message.
    return false;
  }
}

/**
 * The shell script run inside the pod's new mount/UTS namespace before exec'ing
 * the container: bind the hosts file, set the hostname, bind each volume.
 * The mount points must exist: the agent creates missing ones on the host first.
 */
export function buildInitScript(hostsPath: string, hostname: string, mounts: readonly BindMount[], cwd: string): string {
  const lines = ['set -e', `mount --bind ${shq(hostsPath)} /etc/hosts`, `hostname ${shq(hostname)}`];
  for (const m of mounts) {
    // A volume mounted over an ancestor of the image's directory (an emptyDir at /tmp while the
    // repository lives under /tmp) would hide the container's own files, which in a real image
    // never live in a volume: carry the directory into the volume first (this namespace only).
    if (cwd.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`) && !isFileSource(m.source)) {
      const inside = `${m.source}/${cwd.slice(m.target.length).replace(/^\/+/, '')}`;
      lines.push(`mkdir -p ${shq(inside)}`, `mount --bind ${shq(cwd)} ${shq(inside)}`, `mount --rbind ${shq(m.source)} ${shq(m.target)}`);
    } else {
      lines.push(`mount --bind ${shq(m.source)} ${shq(m.target)}`);
    }
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${shq(m.target)}`);
  }
  lines.push(`cd ${shq(cwd)}`, 'exec "$@"');
  return lines.join('\n');
}

/** One pod on the agent's node. */
export class PodRunner {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly podDir: string;
  readonly hostsPath: string;
  pod: V1Pod;
  private readonly containers: ContainerRun[] = [];
  private failure: PodFailure | undefined;
  private conditions: ConditionView[] = [];
  private readonly startTime = nowIso();
  private terminating = false;
  private statusDirty = false;
  private statusWriting: Promise<void> | undefined;
  private lastPhase: PodPhase = PodPhase.Pending;
  private lastReady = false;

  constructor(
    pod: V1Pod,
    readonly podIP: string,
    stateDir: string,
    private readonly ctx: RunnerContext,
  ) {
    this.pod = pod;
    this.namespace = pod.metadata?.namespace ?? 'default';
    this.name = pod.metadata?.name ?? '';
    this.uid = pod.metadata?.uid ?? '';
    this.podDir = join(stateDir, 'pods', this.uid);
    this.hostsPath = join(this.podDir, 'hosts');
    // The pod's IP is known to the API from the start, so that fieldRef status.podIP resolves.
    this.pod = { ...pod, status: { ...pod.status, podIP } };
  }

  /** The hostname the pod sees (spec.hostname, else the pod name). */
  get hostname(): string {
    return this.pod.spec?.hostname ?? this.name;
  }

  /** The pod phase last reported. */
  get phase(): PodPhase {
    return this.lastPhase;
  }

  /** True when all containers are running and ready. */
  get ready(): boolean {
    return this.lastReady;
  }

  /** True once stop/terminate was requested. */
  get isTerminating(): boolean {
    return this.terminating;
  }

  /** Prepares volumes and starts every container; failures end in a Failed pod, never a throw. */
  async start(): Promise<void> {
    mkdirSync(this.podDir, { recursive: true });
    for (const spec of this.pod.spec?.containers ?? []) {
      this.containers.push({
        spec,
        argv: [],
        env: {},
        cwd: '/',
        mounts: [],
        child: undefined,
        state: { waiting: { reason: 'ContainerCreating' } },
        lastState: undefined,
        restartCount: 0,
        ready: false,
        final: false,
        startedAt: '',
        probeTimer: undefined,
        restartTimer: undefined,
        probeFailures: 0,
        exited: Promise.resolve(),
      });
    }
    this.scheduleStatus();
    try {
      await this.prepare();
    } catch (err) {
      const isImage = err instanceof ImagePullError;
      this.fail({ reason: isImage ? 'ErrImagePull' : 'CreateContainerConfigError', message: getErrorMessage(err) });
      return;
    }
    if (this.terminating) return;
    this.ctx.writeHosts(this);
    for (const c of this.containers) this.spawnContainer(c);
  }

  private fail(failure: PodFailure): void {
    this.failure = failure;
    for (const c of this.containers) {
      c.state = { waiting: { reason: failure.reason, message: failure.message } };
      c.final = true;
    }
    this.ctx.log('Failed to start pod', { pod: `${this.namespace}/${this.name}`, reason: failure.reason, message: failure.message });
    this.scheduleStatus();
  }

  /** Resolves images, env and volumes; retries missing config objects for `configWaitMs`. */
  private async prepare(): Promise<void> {
    for (const c of this.containers) {
      if (findImageHandler(this.ctx.imageMap, c.spec.image ?? '') === undefined) {
        throw new ImagePullError(`image "${c.spec.image}" is not mapped to a local command by the test node agent`);
      }
    }
    const deadline = Date.now() + this.ctx.configWaitMs;
    for (;;) {
      try {
        await this.prepareOnce();
        return;
      } catch (err) {
        if (!(err instanceof ContainerConfigError) || err instanceof ImagePullError || Date.now() > deadline || this.terminating) throw err;
        await sleep(250);
      }
    }
  }

  private async prepareOnce(): Promise<void> {
    const volumePaths = new Map<string, string>();
    for (const vol of this.pod.spec?.volumes ?? []) volumePaths.set(vol.name, await prepareVolume(vol, this.pod, this.podDir, this.ctx.volumeSources));
    const anySaMount = this.containers.some((c) => (c.spec.volumeMounts ?? []).some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH));
    let saDir: string | undefined;
    if (!anySaMount) {
      try {
        saDir = await prepareServiceAccountDir(this.pod, this.podDir, this.ctx.volumeSources);
      } catch (err) {
        // No ServiceAccount in the namespace (no controller-manager): run without a token, as a pod with automount off.
        this.ctx.log('Skipped service account token', { pod: `${this.namespace}/${this.name}`, error: getErrorMessage(err) });
      }
    }
    const ns = this.namespace;
    const readMap = async (kind: 'Secret' | 'ConfigMap', name: string): Promise<Record<string, string> | undefined> => {
      const data = await this.ctx.volumeSources.readData(kind, ns, name);
      return data === undefined ? undefined : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')]));
    };
    for (const c of this.containers) {
      const handler = findImageHandler(this.ctx.imageMap, c.spec.image ?? '');
      if (handler === undefined) throw new ImagePullError(`image "${c.spec.image}" is not mapped`);
      const base = { ...this.ctx.baseEnv, ...(handler.env ?? {}), HOSTNAME: this.hostname };
      c.env = await buildContainerEnv(this.pod, c.spec, base, async (kind, name, key) => (await readMap(kind, name))?.[key], readMap);
      const { command, args } = expandCommand(c.spec, c.env);
      c.argv = handler.resolve(command, args);
      if (c.argv.length === 0) throw new ImagePullError(`image "${c.spec.image}": handler resolved an empty command`);
      c.cwd = handler.cwd ?? process.cwd();
      c.mounts = buildMounts(c.spec, volumePaths, saDir);
    }
  }

  private spawnContainer(c: ContainerRun): void {
    if (this.terminating) return;
    const logPath = this.ctx.logPath(this.namespace, this.name, c.spec.name);
    const fd = openSync(logPath, 'a');
    for (const m of c.mounts) this.ctx.ensureMountPoint(m.target, isFileSource(m.source));
    const script = buildInitScript(this.hostsPath, this.hostname, c.mounts, c.cwd);
    const unshareArgv = ['unshare', '--mount', '--uts', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'pod-init', ...c.argv];
    // pdeathsig: the kernel kills the pod if the test process dies without cleaning up.
    const argv = SETPRIV === undefined ? unshareArgv : [SETPRIV, '--pdeathsig', 'SIGKILL', ...unshareArgv];
    const child = spawn(argv[0] ?? 'unshare', argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: c.env, cwd: '/' });
    closeSync(fd);
    child.unref();
    c.child = child;
    c.startedAt = nowIso();
    const containerID = `dat-node://${child.pid ?? 0}`;
    c.state = { running: { startedAt: c.startedAt } };
    c.ready = c.spec.readinessProbe === undefined;
    c.probeFailures = 0;
    c.exited = new Promise((resolve) => {
      let done = false;
      const onEnd = (code: number | null, signal: NodeJS.Signals | null, message?: string): void => {
        if (done) return;
        done = true;
        this.onContainerExit(c, code, signal, containerID, message);
        resolve();
      };
      child.once('exit', (code, signal) => onEnd(code, signal));
      child.once('error', (err) => onEnd(127, null, getErrorMessage(err)));
    });
    if (c.spec.readinessProbe !== undefined) this.startProbe(c, c.spec.readinessProbe);
    this.ctx.log('Started container', { pod: `${this.namespace}/${this.name}`, container: c.spec.name, pid: child.pid, ip: this.podIP });
    this.scheduleStatus();
  }

  private onContainerExit(c: ContainerRun, code: number | null, signal: NodeJS.Signals | null, containerID: string, message?: string): void {
    clearTimeout(c.probeTimer);
    c.child = undefined;
    const signum = signal === null ? undefined : osConstants.signals[signal];
    const exitCode = code ?? 128 + (signum ?? 0);
    const terminated: ContainerStateView = {
      terminated: {
        exitCode,
        ...(signum === undefined ? {} : { signal: signum }),
        reason: exitCode === 0 ? 'Completed' : 'Error',
        ...(message === undefined ? {} : { message }),
        startedAt: c.startedAt,
        finishedAt: nowIso(),
        containerID,
      },
    };
    c.ready = false;
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    const restart = !this.terminating && (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0));
    this.ctx.log('Container exited', { pod: `${this.namespace}/${this.name}`, container: c.spec.name, exitCode, signal, restart });
    if (!restart) {
      c.state = terminated;
      c.final = true;
      this.scheduleStatus();
      return;
    }
    c.lastState = terminated;
    const backoff = Math.min(this.ctx.maxRestartBackoffMs, this.ctx.restartBackoffMs * 2 ** c.restartCount);
    c.restartCount += 1;
    c.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${backoff}ms restarting failed container` } };
    c.restartTimer = setTimeout(() => this.spawnContainer(c), backoff);
    this.scheduleStatus();
  }

  private startProbe(c: ContainerRun, probe: V1Probe): void {
    const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
    const failureThreshold = probe.failureThreshold ?? 3;
    const tick = async (): Promise<void> => {
      if (c.child === undefined) return;
      const ok = await this.runProbe(c, probe);
      if (c.child === undefined) return;
      c.probeFailures = ok ? 0 : c.probeFailures + 1;
      const ready = ok ? true : c.probeFailures >= failureThreshold ? false : c.ready;
      if (ready !== c.ready) {
        c.ready = ready;
        this.scheduleStatus();
      }
      c.probeTimer = setTimeout(() => void tick(), period);
    };
    c.probeTimer = setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000);
  }

  private async runProbe(c: ContainerRun, probe: V1Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    const portOf = (p: number | string | undefined): number => {
      if (typeof p === 'number') return p;
      const named = (c.spec.ports ?? []).find((x) => x.name === p);
      return named?.containerPort ?? Number(p);
    };
    if (probe.httpGet !== undefined) {
      const g = probe.httpGet;
      return new Promise((resolve) => {
        const req = httpRequest({ host: g.host ?? this.podIP, port: portOf(g.port as number | string), path: g.path ?? '/', timeout: timeoutMs }, (res) => {
          res.resume();
          const s = res.statusCode ?? 0;
          resolve(s >= 200 && s < 400);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
        req.end();
      });
    }
    if (probe.tcpSocket !== undefined) {
      const t = probe.tcpSocket;
      return new Promise((resolve) => {
        const sock = connect({ host: t.host ?? this.podIP, port: portOf(t.port as number | string), timeout: timeoutMs });
        sock.once('connect', () => {
          sock.destroy();
          resolve(true);
        });
        sock.once('error', () => resolve(false));
        sock.once('timeout', () => {
          sock.destroy();
          resolve(false);
        });
      });
    }
    // exec/grpc probes are not run: an alive process counts as ready.
    return true;
  }

  /** Sends `signal` to every running container's process group (or only `container`'s). */
  kill(signal: NodeJS.Signals, container?: string): void {
    for (const c of this.containers) {
      if (container !== undefined && c.spec.name !== container) continue;
      const pid = c.child?.pid;
      if (pid === undefined) continue;
      try {
        process.kill(-pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Stops the pod as kubelet does on deletion: no more restarts, SIGTERM to
   * every container, SIGKILL after `graceSeconds`; resolves once all exited.
   */
  async terminate(graceSeconds: number): Promise<void> {
    this.terminating = true;
    for (const c of this.containers) {
      clearTimeout(c.restartTimer);
      clearTimeout(c.probeTimer);
      c.final = true;
    }
    const running = this.containers.filter((c) => c.child !== undefined);
    if (running.length === 0) return;
    // The children are unref'd; while we wait for their exit they must keep the event loop alive.
    for (const c of running) c.child?.ref();
    this.kill(graceSeconds > 0 ? 'SIGTERM' : 'SIGKILL');
    // A stopped (SIGSTOP) process would not see SIGTERM until continued.
    if (graceSeconds > 0) this.kill('SIGCONT');
    const all = Promise.all(running.map((c) => c.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(graceSeconds * 1000).then(() => true)]);
    if (timedOut) {
      this.kill('SIGKILL');
      await all;
    }
  }

  /** Process info of each container. */
  processes(): PodProcessInfo[] {
    return this.containers.map((c) => ({
      namespace: this.namespace,
      name: this.name,
      container: c.spec.name,
      pid: c.child?.pid,
      running: c.child !== undefined,
      restartCount: c.restartCount,
      podIP: this.podIP,
      logPath: this.ctx.logPath(this.namespace, this.name, c.spec.name),
    }));
  }

  /** Rewrites the hosts file in place (a rename would not be seen through the bind mount). */
  writeHostsFile(content: string): void {
    let old = '';
    try {
      old = readFileSync(this.hostsPath, 'utf8');
    } catch {
      // First write.
    }
    if (old !== content) writeFileSync(this.hostsPath, content);
  }

  private views(): ContainerView[] {
    return this.containers.map((c) => ({
      name: c.spec.name,
      image: c.spec.image ?? '',
      state: c.state,
      ...(c.lastState === undefined ? {} : { lastState: c.lastState }),
      restartCount: c.restartCount,
      ready: c.ready,
      final: c.final,
      ...(c.child?.pid === undefined ? {} : { containerID: `dat-node://${c.child.pid}` }),
    }));
  }

  /** Coalesces status writes: at most one in flight, the latest state always written last. */
  scheduleStatus(): void {
    this.statusDirty = true;
    if (this.statusWriting !== undefined) return;
    this.statusWriting = (async () => {
      while (this.statusDirty) {
        this.statusDirty = false;
        await this.writeStatus();
      }
      this.statusWriting = undefined;
    })();
  }

  /** Resolves once pending status writes are done. */
  async flushStatus(): Promise<void> {
    while (this.statusWriting !== undefined) await this.statusWriting;
  }

  private async writeStatus(): Promise<void> {
    const built = buildPodStatus({
      containers: this.views(),
      ...(this.failure === undefined ? {} : { failure: this.failure }),
      podIP: this.podIP,
      hostIP: this.ctx.hostIP,
      startTime: this.startTime,
      conditions: this.conditions,
      now: nowIso(),
    });
    this.conditions = built.conditions;
    const changed = built.phase !== this.lastPhase || this.lastReady !== (built.conditions.find((c) => c.type === 'Ready')?.status === 'True');
    this.lastPhase = built.phase;
    this.lastReady = built.conditions.find((c) => c.type === 'Ready')?.status === 'True';
    if (changed) this.ctx.onChange();
    try {
      await this.ctx.core.patchNamespacedPodStatus(
        { name: this.name, namespace: this.namespace, body: { status: built.status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      // 404: the pod is gone (force-deleted); nothing to report to.
      if (!(err instanceof Error && /\b404\b|not found/i.test(err.message))) {
        this.ctx.log('Failed to update pod status', { pod: `${this.namespace}/${this.name}`, error: getErrorMessage(err) });
      }
    }
  }
}

/** An image with no handler in the image map (kubelet: ErrImagePull). */
export class ImagePullError extends ContainerConfigError {}
