/**
 * A real OpenID Connect provider (npm `oidc-provider`) on 127.0.0.1 for end-to-end key tests:
 * one confidential client with the `client_credentials` grant, and resource indicators that make
 * it issue RS256 `at+jwt` access tokens (RFC 9068) for one audience and scope set.
 *
 * @example
 * ```ts
 * const op = await startOidcProvider();
 * const token = await op.getAccessToken('orders:read');
 * await op.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
// @ts-expect-error oidc-provider ships no type declarations (and cannot be augmented); the
// slice of its API used here is typed just below.
import { Provider as UntypedProvider } from 'oidc-provider';

const Provider = UntypedProvider as new (
  issuer: string,
  configuration: Record<string, unknown>,
) => {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
};

export const OIDC_AUDIENCE = 'https://orders.api.test';
export const OIDC_SCOPES = ['orders:read', 'orders:write'] as const;
const CLIENT_ID = 'jwtgate-test';
const CLIENT_SECRET = 'a-long-enough-test-client-secret-0123456789';

export interface OidcProvider {
  /** `http://127.0.0.1:PORT`: the issuer and the `iss` of its tokens. */
  issuer: string;
  discoveryUrl: string;
  /** A real `client_credentials` POST to `/token`; returns the JWT access token. */
  getAccessToken(scope?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts the provider on an ephemeral loopback port, with a fresh RS256 signing key.
 *
 * @example
 * ```ts
 * const op = await startOidcProvider();
 * (await fetch(op.discoveryUrl)).json(); // { issuer: op.issuer, jwks_uri: `${op.issuer}/jwks`, … }
 * ```
 */
export async function startOidcProvider(): Promise<OidcProvider> {
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => handle?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'op-rs256', alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    jwks: { keys: [signingKey] },
    ttl: { ClientCredentials: 300 },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OIDC_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: OIDC_SCOPES.join(' '),
          audience: OIDC_AUDIENCE,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  handle = provider.callback();

  return {
    issuer,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    async getAccessToken(scope = OIDC_SCOPES[0]) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: OIDC_AUDIENCE }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (response.status !== 200 || typeof body.access_token !== 'string') {
        throw new Error(`token request failed: HTTP ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
