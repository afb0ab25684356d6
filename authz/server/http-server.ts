/**
 * The HTTP side of the authz service: Prometheus `/metrics`, liveness `/healthz`, readiness
 * `/readyz`. Plain `node:http`, GET only, nothing else is served.
 *
 * @example
 * ```ts
 * const http = await startHttpServer({ host: '0.0.0.0', port: 9090, registry: metrics.registry,
 *   ready: () => ({ ready: snapshot !== undefined, detail: { generation } }), log });
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../common/log.ts';

/**
 * What readiness reports; `detail` is sent as JSON, so keep secrets out of it.
 *
 * @example
 * ```ts
 * const r: Readiness = { ready: false, detail: { snapshot: 'not loaded' } };
 * ```
 */
export interface Readiness {
  ready: boolean;
  detail: object;
}

/**
 * What the HTTP server needs.
 *
 * @example
 * ```ts
 * const options: HttpServerOptions = { host: '127.0.0.1', port: 0, registry: new Registry(),
 *   ready: () => ({ ready: true, detail: {} }), log };
 * ```
 */
export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
  ready: () => Readiness;
  log: Logger;
}

/**
 * A running HTTP server.
 *
 * @example
 * ```ts
 * await handle.close();
 * ```
 */
export interface HttpServerHandle {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}

/** Readiness, failing closed: a callback that throws means not ready. */
function readReadiness(options: HttpServerOptions): Readiness {
  try {
    return options.ready();
  } catch (error) {
    options.log.error({ err: error }, 'readiness callback failed');
    return { ready: false, detail: { error: 'readiness check failed' } };
  }
}

async function handle(options: HttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Only the path decides; a query string (`/readyz?verbose`) is ignored.
  const path = (req.url ?? '').split('?', 1)[0];
  if (req.method !== 'GET') {
    sendJson(res, 404, { error: 'not_found' });
    return;
  }
  switch (path) {
    case '/metrics':
      send(res, 200, options.registry.contentType, await options.registry.metrics());
      return;
    case '/healthz':
      sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const { ready, detail } = readReadiness(options);
      sendJson(res, ready ? 200 : 503, { ready, detail });
      return;
    }
    default:
      sendJson(res, 404, { error: 'not_found' });
  }
}

/**
 * Starts the server on `host:port`. `/healthz` is 200 while the process can answer at all;
 * `/readyz` is 200 or 503 from `ready()`, with `{ ready, detail }` as JSON; `/metrics` is the
 * registry in Prometheus text format; anything else is 404. `close()` stops accepting, drops idle
 * keep-alive connections (a scraper's would otherwise hold it open) and waits for requests in flight.
 *
 * @example
 * ```ts
 * const { port, close } = await startHttpServer({ host: '127.0.0.1', port: 0, registry,
 *   ready: () => ({ ready: true, detail: {} }), log });
 * ```
 */
export function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      options.log.error({ err: error, url: req.url }, 'HTTP handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
      else res.destroy();
    });
  });

  const close = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeIdleConnections();
    });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      options.log.info({ host: options.host, port }, 'HTTP server listening');
      resolve({ port, close });
    });
  });
}
