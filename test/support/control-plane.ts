/**
 * A real Kubernetes control plane for tests, in the spirit of envtest: etcd +
 * kube-apiserver (+ optionally kube-controller-manager) on loopback ports with
 * a throw-away data dir, RBAC authorization, and an admin kubeconfig.
 *
 * The binaries come from `scripts/install-toolchain.sh`, which builds them
 * from the pinned Kubernetes Go modules into a cache dir ({@link toolchainBinDir}).
 *
 * @example
 * const cp = await startControlPlane({ controllerManager: true });
 * try { const core = cp.kubeConfig.makeApiClient(CoreV1Api); ... } finally { await cp.stop(); }
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from './paths.js';
import { getErrorMessage } from '../../common/errors.js';

/** The user name of the admin identity (member of `system:masters`). */
export const ADMIN_USER = 'dat-test-admin';
/** The service-account token issuer configured on the API server. */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/**
 * The Service IP range handed to the API server. Nothing routes ClusterIPs here
 * (the node agent resolves Service names to pod IPs); a loopback range makes
 * sure that anything dialling one by mistake stays on this machine (outside
 * the node agent's pod IPs, 127.16-215.x.y).
 */
export const SERVICE_CLUSTER_IP_RANGE = '127.250.0.0/16';
/** Cluster domain used in DNS names, as in a default cluster. */
export const CLUSTER_DOMAIN = 'cluster.local';
/** The names of the binaries the control plane and tests need. */
export const TOOLCHAIN_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'helm'] as const;

/** Controllers run by kube-controller-manager when enabled: what tests and the e2e need, nothing more. */
const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'deployment-controller',
  'replicaset-controller',
] as const;

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

/** The cache dir holding the toolchain binaries; `scripts/install-toolchain.sh` uses the same path. */
export function toolchainBinDir(): string {
  const version = readFileSync(join(REPO_ROOT, 'scripts', 'toolchain', 'VERSION'), 'utf8').trim();
  const root = process.env.DAT_TOOLCHAIN_DIR ?? join(homedir(), '.cache', 'dat-operator', 'toolchain');
  return join(root, version, 'bin');
}

/**
 * Returns the bin dir after checking that every toolchain binary is there.
 * @throws Error telling to run `scripts/install-toolchain.sh` when one is missing.
 */
export function requireToolchain(): string {
  const binDir = toolchainBinDir();
  const missing = TOOLCHAIN_BINARIES.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0) {
    throw new Error(
      `toolchain binaries missing in ${binDir}: ${missing.join(', ')}; run \`bash scripts/install-toolchain.sh\` first ` +
        '(it builds them from the pinned Kubernetes Go modules and caches them)',
    );
  }
  return binDir;
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * Also run kube-controller-manager (garbage collector, namespace, service
   * account + token, root CA publisher, deployment and replicaset controllers).
   * Without it, the ServiceAccount admission plugin is disabled so that pods can
   * be created in namespaces that have no `default` ServiceAccount.
   * @default false
   */
  readonly controllerManager?: boolean;
  /**
   * Also run kube-scheduler (the real one, default profile): pods get bound to
   * registered Nodes, or get `PodScheduled=False, reason Unschedulable` with the
   * scheduler's message when none fits. Without it, pods stay Pending unbound.
   * @default false
   */
  readonly scheduler?: boolean;
  /** Where the process logs go; `undefined` keeps them in the temp dir (printed on start failure). @default undefined */
  readonly logDir?: string;
}

/** A running control plane; call {@link ControlPlane.stop} when done. */
export interface ControlPlane {
  /** Path of an admin kubeconfig (token auth, `system:masters`), usable by kubectl and helm. */
  readonly kubeconfigPath: string;
  /** The same admin identity as a client-node KubeConfig. */
  readonly kubeConfig: KubeConfig;
  /** The API server URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** The API server port (also what `KUBERNETES_SERVICE_PORT` should be for in-cluster clients). */
  readonly port: number;
  /** PEM of the CA that signed the API server's serving cert. */
  readonly caPem: string;
  /** The admin bearer token. */
  readonly adminToken: string;
  /** Where the toolchain binaries are (kubectl, helm, ...). */
  readonly binDir: string;
  /** The temp dir holding certs, etcd data and logs (removed by stop()). */
  readonly dir: string;
  /** Kills every process (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Finds a free TCP port on 127.0.0.1 (the OS picks; a small race with other binders is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Certificates and keys for one control plane, generated with the openssl CLI (EC keys: fast). */
function generatePki(dir: string): { ca: string; cert: string; key: string; saKey: string; saPub: string } {
  const p = (n: string): string => join(dir, n);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ecKey = (path: string): void => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  ecKey(p('ca.key'));
  openssl(['req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=dat-test-ca', '-days', '2', '-out', p('ca.crt')]);
  ecKey(p('apiserver.key'));
  openssl(['req', '-new', '-key', p('apiserver.key'), '-subj', '/CN=kube-apiserver', '-out', p('apiserver.csr')]);
  const sans = ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`];
  writeFileSync(p('apiserver.ext'), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  openssl(['x509', '-req', '-in', p('apiserver.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('apiserver.ext'), '-out', p('apiserver.crt')]);
  ecKey(p('sa.key'));
  openssl(['pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]);
  return { ca: p('ca.crt'), cert: p('apiserver.crt'), key: p('apiserver.key'), saKey: p('sa.key'), saPub: p('sa.pub') };
}

/** The kubeconfig YAML (JSON is valid YAML) for a token identity. */
function buildKubeconfig(server: string, caPem: string, token: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'dat-test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: ADMIN_USER, user: { token } }],
      contexts: [{ name: 'dat-test', context: { cluster: 'dat-test', user: ADMIN_USER, namespace: 'default' } }],
      'current-context': 'dat-test',
    },
    null,
    2,
  );
}

/** One supervised child process of the control plane. */
interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  exited: boolean;
}

/** Process groups still alive, killed on exit of the test process so nothing is orphaned. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** setpriv's --pdeathsig makes the kernel kill the child if the test process dies without running exit hooks. */
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

function startProcess(name: string, binary: string, args: string[], logDir: string): Managed {
  const logPath = join(logDir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const [cmd, argv] = SETPRIV === undefined ? [binary, args] : [SETPRIV, ['--pdeathsig', 'SIGKILL', binary, ...args]];
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const m: Managed = { name, child, logPath, exited: false };
  if (child.pid !== undefined) liveGroups.add(child.pid);
  child.on('exit', () => {
    m.exited = true;
    if (child.pid !== undefined) liveGroups.delete(child.pid);
  });
  child.unref();
  return m;
}

async function stopProcess(m: Managed): Promise<void> {
  const pid = m.child.pid;
  if (pid === undefined || m.exited) return;
  const exited = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
  // The child is unref'd; while we wait for its exit it must keep the event loop alive.
  m.child.ref();
  killGroup(pid, 'SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
  if (timedOut) {
    killGroup(pid, 'SIGKILL');
    await exited;
  }
  liveGroups.delete(pid);
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** GETs `url` with a bearer token and the given CA; resolves to the status code and body. */
export async function httpsGet(url: string, caPem: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
    const req = request(url, { ca: caPem, headers, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts etcd and kube-apiserver (and kube-controller-manager if asked) on free
 * loopback ports, waits until the API server's `/readyz` is ok (and, with the
 * controller-manager, until the `default` namespace has its ServiceAccount),
 * and returns an admin identity.
 *
 * @throws Error if the toolchain is missing (run `scripts/install-toolchain.sh`)
 *   or a component does not become ready in 60 s (its log tail is included).
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = requireToolchain();
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'dat-cp-'));
  const logDir = opts.logDir ?? join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const procs: Managed[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Reverse order: the controller-manager and apiserver go before their store.
    for (const m of [...procs].reverse()) await stopProcess(m);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = generatePki(dir);
    const caPem = readFileSync(pki.ca, 'utf8');
    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`);
    const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;

    procs.push(
      startProcess(
        'etcd',
        join(binDir, 'etcd'),
        [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=default=${peerUrl}`,
          // Test data is throw-away: skipping fsync makes writes fast on a shared disk.
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        logDir,
      ),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const admission = opts.controllerManager ? [] : ['--disable-admission-plugins=ServiceAccount'];
    procs.push(
      startProcess(
        'kube-apiserver',
        join(binDir, 'kube-apiserver'),
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${pki.cert}`,
          `--tls-private-key-file=${pki.key}`,
          `--client-ca-file=${pki.ca}`,
          `--token-auth-file=${join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
          `--service-account-key-file=${pki.saPub}`,
          `--service-account-signing-key-file=${pki.saKey}`,
          `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
          '--allow-privileged=true',
          `--cert-dir=${join(dir, 'certs')}`,
          // One apiserver, no HA: skip the endpoint lease reconciler's churn.
          '--endpoint-reconciler-type=none',
          ...admission,
          '-v=1',
        ],
        logDir,
      ),
    );

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, buildKubeconfig(server, caPem, adminToken), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    await waitReady(procs, async () => (await httpsGet(`${server}/readyz`, caPem, adminToken)).status === 200, 'kube-apiserver /readyz');
    // The `default` namespace comes from a post-start hook that may finish after /readyz turns ok.
    await waitReady(procs, async () => (await httpsGet(`${server}/api/v1/namespaces/default`, caPem, adminToken)).status === 200, 'the default namespace');

    if (opts.controllerManager) {
      procs.push(
        startProcess(
          'kube-controller-manager',
          join(binDir, 'kube-controller-manager'),
          [
            `--kubeconfig=${kubeconfigPath}`,
            `--authentication-kubeconfig=${kubeconfigPath}`,
            `--authorization-kubeconfig=${kubeconfigPath}`,
            `--controllers=${CONTROLLERS.join(',')}`,
            `--service-account-private-key-file=${pki.saKey}`,
            `--root-ca-file=${pki.ca}`,
            '--use-service-account-credentials=false',
            '--leader-elect=false',
            '--bind-address=127.0.0.1',
            `--secure-port=${await freePort()}`,
            `--cert-dir=${join(dir, 'kcm-certs')}`,
            '-v=1',
          ],
          logDir,
        ),
      );
      // The serviceaccount controller creating `default/default` shows the controllers are running.
      await waitReady(
        procs,
        async () => (await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, caPem, adminToken)).status === 200,
        'kube-controller-manager (default ServiceAccount)',
      );
    }

    if (opts.scheduler) {
      procs.push(
        startProcess(
          'kube-scheduler',
          join(binDir, 'kube-scheduler'),
          [
            `--kubeconfig=${kubeconfigPath}`,
            `--authentication-kubeconfig=${kubeconfigPath}`,
            `--authorization-kubeconfig=${kubeconfigPath}`,
            '--leader-elect=false',
            '--bind-address=127.0.0.1',
            `--secure-port=${await freePort()}`,
            '-v=1',
          ],
          logDir,
        ),
      );
    }

    return { kubeconfigPath, kubeConfig, server, port: apiPort, caPem, adminToken, binDir, dir, stop };
  } catch (err) {
    const logs = procs.map((m) => `--- ${m.name} (${m.logPath}) ---\n${tail(m.logPath)}`).join('\n');
    await stop();
    throw new Error(`failed to start the control plane: ${getErrorMessage(err)}\n${logs}`, { cause: err });
  }
}

/** Polls `ready` until true; fails fast when a managed process has exited. */
async function waitReady(procs: readonly Managed[], ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const dead = procs.find((m) => m.exited);
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}`);
    try {
      if (await ready()) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
