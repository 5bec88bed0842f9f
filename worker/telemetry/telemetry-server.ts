/**
 * The worker's HTTP endpoint: PROGRESS_PATH serves the latest
 * {@link ProgressReport} as JSON (the operator polls rank 0 for
 * `status.progress`), METRICS_PATH serves the prom-client registry.
 *
 * Building the server is separate from binding it: `createTelemetryServer`
 * returns an unbound server; `start()` listens (the distributed worker calls
 * it when DAT_METRICS_PORT is set).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { METRICS_PATH, PROGRESS_PATH, type ProgressReport } from '../../common/contract.js';
import { getErrorMessage, wrapError } from '../../common/errors.js';

/** Options of {@link createTelemetryServer}. */
export interface TelemetryServerOptions {
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** @default '0.0.0.0' (reachable from the operator's pod) */
  readonly host?: string;
  /** The current progress (called per request). */
  readonly getProgress: () => ProgressReport;
  readonly registry: Registry;
}

/** A telemetry server, not yet listening. */
export interface TelemetryServer {
  /**
   * Resolves once a progress report matching `pred` has been served (or at once if one
   * already was), or after `timeoutMs`; resolves to whether it was served.
   */
  waitForServed(pred: (p: ProgressReport) => boolean, timeoutMs: number): Promise<boolean>;
  /** Binds and listens; resolves to the bound port. */
  start(): Promise<number>;
  /** Stops listening and closes open connections; idempotent. */
  close(): Promise<void>;
  /** The underlying node server (tests). */
  readonly server: Server;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** Builds the server (see the module comment). */
export function createTelemetryServer(opts: TelemetryServerOptions): TelemetryServer {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === PROGRESS_PATH) {
      const p = opts.getProgress();
      send(res, 200, 'application/json', JSON.stringify(p));
      served.push(p);
      if (served.length > 16) served.shift();
      for (const w of [...waiters]) if (w.pred(p)) w.done(true);
      return;
    }
    if (path === METRICS_PATH) {
      send(res, 200, opts.registry.contentType, await opts.registry.metrics());
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', `not found; try ${PROGRESS_PATH} or ${METRICS_PATH}\n`);
  };
  // Reports served so far (the last few) and who waits for one: lets rank 0 linger until
  // the operator has read its final report, so the final accuracy reaches the DATJob status.
  const served: ProgressReport[] = [];
  const waiters = new Set<{ pred: (p: ProgressReport) => boolean; done: (ok: boolean) => void }>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${getErrorMessage(err)}\n`);
      else res.destroy();
    });
  });
  let closed = false;
  return {
    server,
    waitForServed: (pred, timeoutMs) => {
      if (served.some(pred)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const w = {
          pred,
          done: (ok: boolean) => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(ok);
          },
        };
        const timer = setTimeout(() => w.done(false), timeoutMs);
        waiters.add(w);
      });
    },
    start: () =>
      new Promise<number>((resolve, reject) => {
        const onError = (err: Error): void => reject(wrapError(`failed to bind telemetry server on port ${opts.port}`, err));
        server.once('error', onError);
        server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
          server.off('error', onError);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (closed || !server.listening) {
          closed = true;
          resolve();
          return;
        }
        closed = true;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
