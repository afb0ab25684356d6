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
  const claims = JSON.parse(options.claims) as Record<string, unknown>;
  const ttl = Number(options.ttl);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ iat: now, exp: now + ttl, ...claims })
    .setProtectedHeader({ alg: jwk.alg, typ: 'JWT', ...(jwk.kid ? { kid: jwk.kid } : {}) })
    .sign(await importJWK(jwk, jwk.alg));
  process.stdout.write(`${token}\n`);
}
