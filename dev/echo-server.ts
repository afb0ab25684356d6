/**
 * An upstream HTTP server on 127.0.0.1 that answers every request with JSON describing what it
 * received (method, path with query, every header line), so a test behind a proxy can see
 * exactly what the proxy forwarded.
 *
 * @example
 * ```ts
 * const echo = await startEchoServer();
 * const seen = (await (await fetch(`${echo.url}/a?b=1`)).json()) as EchoedRequest;
 * seen.path; // '/a?b=1'
 * await echo.close();
 * ```
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The JSON body the echo server answers with.
 *
 * @example
 * ```ts
 * const seen: EchoedRequest = { method: 'GET', path: '/', headers: { host: ['a.test'] } };
 * ```
 */
export interface EchoedRequest {
  method: string;
  /** The request target as received, query included. */
  path: string;
  /**
   * Lower-case names, one array item per header line received (Node's `headersDistinct`), so a
   * header that arrived twice is visible as two items rather than joined.
   */
  headers: Record<string, string[]>;
}

/**
 * A running echo server.
 *
 * @example
 * ```ts
 * const { port, requests } = echo; // requests: how many requests reached it so far
 * ```
 */
export interface EchoServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Requests answered so far: lets a test prove that a denied request never reached upstream. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Starts the echo server on an ephemeral loopback port. The request body is drained and ignored.
 *
 * @example
 * ```ts
 * const echo = await startEchoServer();
 * ```
 */
export async function startEchoServer(): Promise<EchoServer> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => {
      const body: EchoedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headersDistinct as Record<string, string[]>,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the proxy's pooled keep-alive connections
      }),
  };
}
