/**
 * A real JWKS and OIDC discovery server on 127.0.0.1 for key-loading tests: its key set can be
 * replaced at runtime (rotation), it counts requests, and it can be made to fail like an IdP
 * in trouble (HTTP 500, a hang, a dropped connection).
 *
 * @example
 * ```ts
 * const idp = await startJwksServer({ jwks: jwksOf(key) });
 * idp.failWith('hang');
 * await idp.close();
 * ```
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JwkSet } from '../../snapshot/types.ts';

export type FailureMode = 'none' | 'status500' | 'hang' | 'close';

export interface JwksServer {
  /** `http://127.0.0.1:PORT`, also the default issuer of the discovery document. */
  origin: string;
  jwksUrl: string;
  discoveryUrl: string;
  /** Requests served (or failed) so far, per path. */
  readonly requests: { jwks: number; discovery: number };
  /** Publishes a new key set (rotation). */
  setKeys(jwks: JwkSet): void;
  /** Serves this exact body at the JWKS path instead of the key set (bad or huge documents). */
  setRawJwks(body: string | undefined): void;
  /** Changes the discovery document's `issuer` (default: `origin`). */
  setDiscoveryIssuer(issuer: string): void;
  failWith(mode: FailureMode): void;
  /** Resolves when the next request for `kind` arrives (counted, not yet answered): an event to wait for, instead of a sleep. */
  nextRequest(kind: 'jwks' | 'discovery'): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the server on an ephemeral loopback port.
 *
 * @example
 * ```ts
 * const idp = await startJwksServer({ jwks: { keys: [] } });
 * await fetch(idp.jwksUrl); // 200 { keys: [] }
 * ```
 */
export async function startJwksServer(options: { jwks: JwkSet; discoveryIssuer?: string }): Promise<JwksServer> {
  let jwks = options.jwks;
  let rawJwks: string | undefined;
  let discoveryIssuer = options.discoveryIssuer;
  let failure: FailureMode = 'none';
  const requests = { jwks: 0, discovery: 0 };
  const waiters: { kind: 'jwks' | 'discovery'; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const kind = path === '/jwks' ? 'jwks' : path === '/.well-known/openid-configuration' ? 'discovery' : undefined;
    if (kind === undefined) {
      res.writeHead(404).end();
      return;
    }
    requests[kind] += 1;
    for (const w of waiters.splice(0))
      if (w.kind === kind) w.resolve();
      else waiters.push(w);
    if (failure === 'hang') return; // never answers; the client's timeout must fire
    if (failure === 'close') {
      req.socket.destroy();
      return;
    }
    if (failure === 'status500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('identity provider is down');
      return;
    }
    const body =
      kind === 'jwks'
        ? (rawJwks ?? JSON.stringify(jwks))
        : JSON.stringify({ issuer: discoveryIssuer ?? origin, jwks_uri: `${origin}/jwks` });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    jwksUrl: `${origin}/jwks`,
    discoveryUrl: `${origin}/.well-known/openid-configuration`,
    requests,
    setKeys: (next) => {
      jwks = next;
    },
    setRawJwks: (body) => {
      rawJwks = body;
    },
    setDiscoveryIssuer: (issuer) => {
      discoveryIssuer = issuer;
    },
    failWith: (mode) => {
      failure = mode;
    },
    nextRequest: (kind) =>
      new Promise<void>((resolve) => {
        waiters.push({ kind, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // hung requests and keep-alive sockets
      }),
  };
}
