/**
 * The ring port: a TCP listener owned by this module, feeding a gRPC server
 * through grpc-js's connection injector, so every socket is ours to limit and
 * to close.
 *
 * 1. Listen on `host:port`; a failure (port taken, address not local) is a
 *    {@link RingBindError} at once, naming the address and what to do.
 * 2. Per accepted socket: with TLS, run the handshake here, demanding a client
 *    certificate that chains to the job CA, within `handshakeTimeoutMs`. Only
 *    an authorized TLS socket reaches gRPC: a peer without the job's
 *    certificate never gets an HTTP/2 session. Refusals are reported (logged
 *    and counted by the caller). Without TLS the socket goes to gRPC as is.
 * 3. Limits: at most `maxPendingHandshakes` sockets in the handshake and
 *    `maxConnections` in all; the rest are closed on accept.
 * 4. `close(graceMs)`: stop accepting, let gRPC finish calls for `graceMs`
 *    (tryShutdown), then force it, and destroy every socket still open
 *    (handshakes that never finish, idle strangers), so a finished rank can
 *    exit whatever others hold open.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, DatError, getErrorMessage } from '../../common/errors.js';

/** A TLS handshake (TCP accept to an authorized peer) must finish within this. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/** Sockets still in the TLS handshake; a flood beyond this is closed on accept. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 32;
/** All sockets of the ring port: a ring needs a few per peer, this leaves ample headroom. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Grace of {@link RingListener.close} for calls in flight before gRPC is forced down. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 1_000;

/** Why a connection never reached gRPC. */
export interface ConnectionRefusal {
  /** `handshake_failed`, `handshake_timeout`, `unauthorized_certificate` or `too_many_connections`. */
  readonly kind: 'handshake_failed' | 'handshake_timeout' | 'unauthorized_certificate' | 'too_many_connections';
  readonly message: string;
  /** `address:port` of the remote end. */
  readonly peer: string;
}

/** TLS settings of a ring port. */
export interface RingServerTls {
  /** The job CA (PEM): the only issuer of acceptable client certificates. */
  readonly ca: string;
  /** This rank's certificate and private key (PEM). */
  readonly cert: string;
  readonly key: string;
}

/** How the ring port accepts connections. */
export interface RingListenerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Mutual TLS; plain text when absent. */
  readonly tls?: RingServerTls;
  /** Run on every call before its handler (peer authorization). @default [] */
  readonly interceptors?: readonly grpc.ServerInterceptor[];
  /** Told about every connection refused before gRPC. */
  readonly onRefused?: (refusal: ConnectionRefusal) => void;
  /** @default 5000 */
  readonly handshakeTimeoutMs?: number;
  /** @default 32 */
  readonly maxPendingHandshakes?: number;
  /** @default 256 */
  readonly maxConnections?: number;
}

/** A listening ring port. */
export interface RingListener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Open sockets (authenticated or not); for tests and diagnostics. */
  readonly openConnections: number;
  /** Stops the port and the gRPC server; resolves within about `graceMs` whatever peers hold open. */
  close(graceMs?: number): Promise<void>;
}

/** The ring port could not be bound: names the address, the cause and what to do. */
export class RingBindError extends DatError {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, cause: unknown) {
    // A taken port may be free on the next try (a gang restart gets new pods or new local ports).
    super(message, { retryable: true, cause });
    this.code = code;
  }
}

/** What to do about a failed listen, by errno. */
function bindHint(code: string | undefined, port: number): string {
  switch (code) {
    case 'EADDRINUSE':
      return `another process holds port ${port}: stop it, or give the ring another port (DAT_RING_PORT; \`dat train --workers N\` picks free ports on each run)`;
    case 'EACCES':
      return `port ${port} needs privileges this process lacks: choose a port of 1024 or above (DAT_RING_PORT)`;
    case 'EADDRNOTAVAIL':
      return 'the bind address is not an address of this host: set DAT_RING_BIND to one of its addresses (or 0.0.0.0)';
    default:
      return 'check DAT_RING_BIND and DAT_RING_PORT';
  }
}

/** Step 1's error: retryable when the port is merely taken, a ConfigError when the address can never work. */
export function bindFailure(host: string, port: number, err: unknown): DatError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const message = `ring server could not listen on ${formatAddress(host, port)}: ${code ?? getErrorMessage(err)}; ${bindHint(code, port)}`;
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') return new ConfigError(message, err);
  return new RingBindError(message, code, err);
}

/** `host:port`, bracketing IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function remoteOf(socket: net.Socket): string {
  return formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
}

/** Steps 1-4 of the module comment for `server` (built by createRingServer, not bound). */
export async function listenRingServer(server: grpc.Server, opts: RingListenerOptions): Promise<RingListener> {
  const base = grpc.ServerCredentials.createInsecure();
  // TLS is done here (step 2), so gRPC sees authorized sockets only and speaks HTTP/2 over them.
  const creds = opts.interceptors?.length ? grpc.experimental.createServerCredentialsWithInterceptors(base, [...opts.interceptors]) : base;
  const injector = server.createConnectionInjector(creds);
  const sockets = new Set<net.Socket>();
  const accept = createAcceptor(opts, sockets, (conn) => injector.injectConnection(conn));
  const listener = net.createServer({ noDelay: true }, accept);
  // Step 3: net.Server closes connections beyond this on accept.
  listener.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', (err) => reject(bindFailure(opts.host, opts.port, err)));
    listener.listen(opts.port, opts.host, () => resolve((listener.address() as net.AddressInfo).port));
  });
  // After the bind, an accept error (EMFILE) must not crash the worker: the socket is simply lost.
  listener.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  return {
    port,
    get openConnections() {
      return sockets.size;
    },
    close: (graceMs = DEFAULT_SHUTDOWN_GRACE_MS) => (closing ??= shutdownRing(listener, server, sockets, graceMs)),
  };
}

/** Step 2 and 3 per accepted socket. */
function createAcceptor(opts: RingListenerOptions, sockets: Set<net.Socket>, inject: (conn: net.Socket) => void): (socket: net.Socket) => void {
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Errors end in 'close'; without a listener a reset by the peer would crash the process.
    socket.on('error', () => undefined);
  };
  if (opts.tls === undefined) {
    return (socket) => {
      track(socket);
      inject(socket);
    };
  }
  const gate = createTlsGate(opts, opts.tls, (secure) => {
    track(secure);
    inject(secure);
  });
  return (socket) => {
    track(socket);
    gate(socket);
  };
}

/**
 * Step 2: the handshake runs in a tls.Server that never listens (sockets are
 * handed to it), so Node enforces the client certificate and the handshake
 * deadline; the sockets it passes on are authorized. A socket that closes
 * before that was refused: by a TLS error or timeout ('tlsClientError'), or, for
 * a certificate of another CA, silently by Node, which we report on 'close'.
 */
function createTlsGate(opts: RingListenerOptions, settings: RingServerTls, pass: (secure: tls.TLSSocket) => void): (socket: net.Socket) => void {
  const maxPending = opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
  const handshakeMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  // Handshakes in progress by remote `address:port` (unique among live connections).
  const pending = new Map<string, net.Socket>();
  const report = (kind: ConnectionRefusal['kind'], message: string, peer: string): void => opts.onRefused?.({ kind, message, peer });
  const server = tls.createServer({
    ca: settings.ca,
    cert: settings.cert,
    key: settings.key,
    // Without a certificate from the job CA the handshake fails, before any HTTP/2.
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    handshakeTimeout: handshakeMs,
  });
  server.on('secureConnection', (secure) => {
    pending.delete(remoteOf(secure));
    pass(secure);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, secure) => {
    const peer = remoteOf(secure);
    if (!pending.delete(peer)) return;
    const timedOut = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
    report(timedOut ? 'handshake_timeout' : 'handshake_failed', timedOut ? `TLS handshake did not finish within ${handshakeMs} ms` : getErrorMessage(err), peer);
    secure.destroy();
  });
  return (socket) => {
    const peer = remoteOf(socket);
    if (pending.size >= maxPending) {
      report('too_many_connections', `${pending.size} TLS handshakes already in progress`, peer);
      socket.destroy();
      return;
    }
    pending.set(peer, socket);
    socket.once('close', () => {
      if (pending.get(peer) !== socket) return;
      pending.delete(peer);
      report('unauthorized_certificate', 'the TLS handshake was refused: no client certificate issued by the job CA', peer);
    });
    server.emit('connection', socket);
  };
}

/** Step 4. */
async function shutdownRing(listener: net.Server, server: grpc.Server, sockets: Set<net.Socket>, graceMs: number): Promise<void> {
  listener.close();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  // Whatever gRPC does not know about (handshakes in progress, sockets it left open) goes now.
  for (const s of sockets) s.destroy();
  sockets.clear();
}
