/**
 * Emulated links for the benchmarks: N network namespaces ("hosts"), each
 * joined to a bridge in a hub namespace ("the switch") by a veth pair, with a
 * token-bucket filter (`tc qdisc ... tbf`) on both ends of every veth, so each
 * host gets a full-duplex port of the given rate. Traffic between hosts stays
 * inside these namespaces; the machine's own interfaces are never touched.
 *
 * Why tbf and not netem: netem (delay, loss) is not available on this kernel,
 * tbf is; rate is what decides the all-reduce time for large buffers.
 *
 * Shape: pure builders ({@link buildLinkPlan}, {@link buildSetupCommands},
 * {@link buildTeardownCommands}) return argv lists; {@link applyCommands} is
 * the one place that runs them; {@link createEmulatedLinks} wires the two and
 * registers the cleanup for exit and signals.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';

/** Queue limit of each tbf, as time at the full rate: packets waiting longer are dropped. */
export const TBF_LATENCY = '50ms';
/** Smallest tbf bucket: must hold a whole GSO super-packet (64 KiB) or such packets are dropped. */
export const MIN_BURST_BYTES = 256 * 1024;
/** Bucket as time at the full rate: large enough for the timer tick, small against a 64 MiB transfer (~0.5 s at 1 Gbit/s). */
export const BURST_SECONDS = 0.004;
/** Host addresses: 10.213.0.(rank + 1)/24, private and only ever configured inside the namespaces. */
export const SUBNET_PREFIX = '10.213.0';

/** One host of the plan. */
export interface LinkHost {
  readonly rank: number;
  /** Namespace of this host. */
  readonly netns: string;
  /** The host's end of its veth (inside {@link netns}). */
  readonly device: string;
  /** The switch's end of the veth (inside the hub namespace). */
  readonly hubDevice: string;
  /** IPv4 address of {@link device}. */
  readonly address: string;
}

/** Everything the commands need, decided up front. */
export interface LinkPlan {
  /** Rate as tc spells it, for example `1gbit`. */
  readonly rate: string;
  readonly rateBitsPerSecond: number;
  readonly burstBytes: number;
  readonly hubNetns: string;
  readonly bridge: string;
  readonly hosts: readonly LinkHost[];
}

/** Options of {@link buildLinkPlan}. */
export interface LinkPlanOptions {
  readonly hosts: number;
  /** tc rate, for example `100mbit`, `1gbit`, `10gbit`. */
  readonly rate: string;
  /** Distinguishes concurrent plans (namespace and device names); 1 to 4 characters of [a-z0-9]. */
  readonly tag: string;
}

const RATE_UNITS: Readonly<Record<string, number>> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };

/** Bits per second of a tc rate (`100mbit`, `1gbit`, `2.5gbit`); throws on anything else. */
export function parseRate(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|tbit)$/.exec(rate.trim().toLowerCase());
  if (m === null) throw new RangeError(`link rate ${JSON.stringify(rate)} is not a tc rate such as 100mbit, 1gbit or 10gbit`);
  const bps = Number(m[1]) * RATE_UNITS[m[2]!]!;
  if (!(bps > 0)) throw new RangeError(`link rate ${rate} must be positive`);
  return bps;
}

/** Parses `--link 1gbit,10gbit` into its rates (validated; the names in `also` pass as they are). */
export function parseLinkList(list: string, also: readonly string[] = []): string[] {
  const rates = list.split(',').map((r) => r.trim()).filter((r) => r.length > 0);
  if (rates.length === 0) throw new RangeError('--link needs at least one rate, for example --link 1gbit,10gbit');
  for (const r of rates) if (!also.includes(r)) parseRate(r);
  return rates;
}

/** The names, addresses and tbf bucket of a set of emulated links. */
export function buildLinkPlan(opts: LinkPlanOptions): LinkPlan {
  if (!/^[a-z0-9]{1,4}$/.test(opts.tag)) throw new RangeError(`link tag ${JSON.stringify(opts.tag)} must be 1 to 4 characters of [a-z0-9]`);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 2 || opts.hosts > 200) throw new RangeError(`link hosts must be an integer in [2, 200], got ${opts.hosts}`);
  const rateBitsPerSecond = parseRate(opts.rate);
  const burstBytes = Math.max(MIN_BURST_BYTES, Math.ceil((rateBitsPerSecond / 8) * BURST_SECONDS));
  // Device names: at most 15 characters (IFNAMSIZ − 1); "dl" + tag + h|s + rank fits.
  const hosts = Array.from({ length: opts.hosts }, (_, rank) => ({
    rank,
    netns: `datlink-${opts.tag}-h${rank}`,
    device: `dl${opts.tag}h${rank}`,
    hubDevice: `dl${opts.tag}s${rank}`,
    address: `${SUBNET_PREFIX}.${rank + 1}`,
  }));
  return { rate: opts.rate, rateBitsPerSecond, burstBytes, hubNetns: `datlink-${opts.tag}-hub`, bridge: 'br0', hosts };
}

/** `tc qdisc add ... tbf` on `device` inside `netns`. */
export function buildTbfCommand(plan: LinkPlan, netns: string, device: string): string[] {
  return ['tc', '-n', netns, 'qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', plan.rate, 'burst', String(plan.burstBytes), 'latency', TBF_LATENCY];
}

/**
 * The commands that build the plan, in order:
 * 1. the hub namespace with an up bridge;
 * 2. per host: its namespace (loopback up), a veth pair created in the root
 *    namespace and moved at once (one end to the host, one to the hub), the
 *    hub end enslaved to the bridge, the host end addressed and up;
 * 3. a tbf on both ends of every veth.
 */
export function buildSetupCommands(plan: LinkPlan): string[][] {
  const hub = plan.hubNetns;
  const cmds: string[][] = [
    // Step 1
    ['ip', 'netns', 'add', hub],
    ['ip', '-n', hub, 'link', 'add', plan.bridge, 'type', 'bridge'],
    ['ip', '-n', hub, 'link', 'set', plan.bridge, 'up'],
  ];
  for (const h of plan.hosts) {
    // Step 2
    cmds.push(
      ['ip', 'netns', 'add', h.netns],
      ['ip', '-n', h.netns, 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', h.device, 'netns', h.netns, 'type', 'veth', 'peer', 'name', h.hubDevice, 'netns', hub],
      ['ip', '-n', hub, 'link', 'set', h.hubDevice, 'master', plan.bridge],
      ['ip', '-n', hub, 'link', 'set', h.hubDevice, 'up'],
      ['ip', '-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', h.device],
      ['ip', '-n', h.netns, 'link', 'set', h.device, 'up'],
    );
  }
  // Step 3
  for (const h of plan.hosts) cmds.push(buildTbfCommand(plan, h.netns, h.device), buildTbfCommand(plan, hub, h.hubDevice));
  return cmds;
}

/** Deleting a namespace deletes its devices and their veth peers; hosts first, the hub last. */
export function buildTeardownCommands(plan: LinkPlan): string[][] {
  return [...plan.hosts.map((h) => ['ip', 'netns', 'del', h.netns]), ['ip', 'netns', 'del', plan.hubNetns]];
}

/** argv to run `argv` inside the namespace of host `rank`. */
export function buildNetnsExec(plan: LinkPlan, rank: number, argv: readonly string[]): string[] {
  const h = plan.hosts[rank];
  if (h === undefined) throw new RangeError(`no host ${rank} in a plan of ${plan.hosts.length}`);
  return ['ip', 'netns', 'exec', h.netns, ...argv];
}

/** Why emulated links cannot run here, or undefined when they can. */
export function missingPrerequisite(uid: number | undefined, onPath: (tool: string) => boolean): string | undefined {
  if (uid !== 0) return `emulated links need root (network namespaces and tc qdiscs); this process runs as uid ${uid ?? 'unknown'}`;
  const missing = ['ip', 'tc'].filter((t) => !onPath(t));
  if (missing.length > 0) return `emulated links need ${missing.join(' and ')} on PATH (Debian/Ubuntu package iproute2: apt-get install iproute2)`;
  return undefined;
}

/** Whether an executable `tool` is on PATH. */
export function isOnPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A command that failed, with its argv and stderr. */
export class LinkCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`emulated links: command failed: ${argv.join(' ')}: ${stderr.trim()}`);
    this.name = 'LinkCommandError';
  }
}

/** Runs argv synchronously; throws a {@link LinkCommandError} with its stderr. */
export type CommandRunner = (argv: readonly string[]) => void;

/** The real runner: execFileSync, stderr captured. */
export const execCommand: CommandRunner = (argv) => {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new LinkCommandError(argv, stderr);
  }
};

/**
 * The one side-effecting step: runs `cmds` in order. With `bestEffort` (the
 * teardown) it runs them all and returns the failures; otherwise it stops at
 * the first failure and throws.
 */
export function applyCommands(cmds: readonly (readonly string[])[], run: CommandRunner = execCommand, bestEffort = false): Error[] {
  const failures: Error[] = [];
  for (const argv of cmds) {
    try {
      run(argv);
    } catch (err) {
      if (!bestEffort) throw err;
      failures.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return failures;
}

/** Live emulated links; {@link close} tears them down (idempotent). */
export interface EmulatedLinks {
  readonly plan: LinkPlan;
  close(): void;
}

/**
 * Checks the prerequisites, builds the namespaces and links of `opts`
 * (a fresh random tag unless given) and returns them. The teardown runs on
 * {@link EmulatedLinks.close}, on process exit and on SIGINT/SIGTERM, and
 * also when the setup itself fails half way.
 */
export function createEmulatedLinks(opts: Omit<LinkPlanOptions, 'tag'> & { readonly tag?: string }, run: CommandRunner = execCommand): EmulatedLinks {
  const why = missingPrerequisite(process.getuid?.(), isOnPath);
  if (why !== undefined) throw new Error(why);
  const plan = buildLinkPlan({ ...opts, tag: opts.tag ?? randomBytes(2).toString('hex') });
  let closed = false;
  // Exit (not re-raise the signal): a signal death skips 'exit' handlers, such as the one that stops the rank processes.
  const onSignal = (signal: NodeJS.Signals): void => {
    close();
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  const close = (): void => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Only namespaces that exist: a partial setup deletes what it made.
    const existing = new Set(execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0]));
    applyCommands(buildTeardownCommands(plan).filter((c) => existing.has(c[3])), run, true);
  };
  process.once('exit', close);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    applyCommands(buildSetupCommands(plan), run);
  } catch (err) {
    close();
    throw err;
  }
  return { plan, close };
}
