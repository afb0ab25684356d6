/**
 * `jwtgate sign`: mints a token with a private JWK, for trying policies locally (the examples
 * ship a demo key). It is a developer convenience, never part of the request path.
 *
 * @example
 * ```sh
 * jwtgate sign --key examples/keys/demo-private.jwk.json --claims '{"sub":"alice"}' --ttl 600
 * ```
 */
import { readFile } from 'node:fs/promises';
import { SignJWT, importJWK, type JWK } from 'jose';

export async function signCommand(options: { key: string; claims: string; ttl: string }): Promise<void> {
  const jwk = JSON.parse(await readFile(options.key, 'utf8')) as JWK;
  if (typeof jwk.alg !== 'string') throw new Error(`${options.key}: the JWK needs an "alg" member`);
  const token = await mintToken({ ...jwk, alg: jwk.alg }, JSON.parse(options.claims) as Record<string, unknown>, Number(options.ttl));
  process.stdout.write(`${token}\n`);
}

/**
 * Signs `claims` with a private JWK the way `jwtgate sign` does: `iat` now, `exp` after
 * `ttlSeconds` (either overridden by `claims`), header `alg` and `kid` from the JWK, `typ: JWT`.
 * The demo (dev/demo.ts) mints its tokens with it too.
 *
 * @example
 * ```ts
 * const token = await mintToken(jwk, { iss: 'https://idp.example.com', sub: 'alice' }, 600);
 * ```
 */
export async function mintToken(jwk: JWK & { alg: string }, claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + ttlSeconds, ...claims })
    .setProtectedHeader({ alg: jwk.alg, typ: 'JWT', ...(jwk.kid ? { kid: jwk.kid } : {}) })
    .sign(await importJWK(jwk, jwk.alg));
}
