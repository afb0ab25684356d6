/**
 * One bounded HTTP GET of a JSON document for the key plane (discovery documents and JWK sets):
 * only https (or http to loopback), no redirects, a body size cap, a caller-owned abort signal.
 * Every failure is a {@link KeyFetchError} whose `result` is the metric label.
 *
 * @example
 * ```ts
 * const json = await fetchJson(new URL('https://idp.example/jwks'), { signal: AbortSignal.timeout(5000) });
 * ```
 */

/** Bodies above this are refused; real JWK sets and discovery documents are a few KiB. */
export const MAX_KEY_DOCUMENT_BYTES = 1024 * 1024;

/** Bounded set of outcomes, used as the `result` label of `jwtgate_jwks_fetches_total`. */
export type FetchResult = 'ok' | 'http_error' | 'timeout' | 'network_error' | 'too_large' | 'invalid' | 'url_forbidden' | 'cooling_down';

/**
 * A key-plane fetch failed. Anything that reaches a verifier as this error means "keys are
 * unavailable" (503), never "token invalid" (401): an IdP outage is not the client's fault.
 *
 * @example
 * ```ts
 * throw new KeyFetchError('http_error', 'JWKS answered 500');
 * ```
 */
export class KeyFetchError extends Error {
  readonly result: Exclude<FetchResult, 'ok'>;

  constructor(result: Exclude<FetchResult, 'ok'>, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyFetchError';
    this.result = result;
  }
}

/**
 * Throws unless `url` may be fetched for keys: https anywhere, plain http only to a loopback
 * host (tests, sidecar IdPs). Keys fetched in clear text from the network could be swapped.
 *
 * @example
 * ```ts
 * checkKeyUrl('http://127.0.0.1:8080/jwks'); // URL
 * checkKeyUrl('http://idp.example/jwks'); // throws KeyFetchError('url_forbidden')
 * ```
 */
export function checkKeyUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyFetchError('url_forbidden', `not a URL: ${url}`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(parsed.hostname);
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && loopback)) return parsed;
  throw new KeyFetchError('url_forbidden', `${parsed.protocol}//${parsed.host} is not https (plain http is allowed on loopback only)`);
}

/**
 * GETs `url` and parses its JSON body, reading at most `maxBytes`. Redirects are not followed:
 * a key URL that moves is a configuration change, not something to follow silently.
 *
 * @example
 * ```ts
 * await fetchJson(checkKeyUrl(jwksUri), { signal, headers: { accept: 'application/json' } });
 * ```
 */
export async function fetchJson(
  url: URL,
  init: { signal: AbortSignal; headers?: Headers | Record<string, string> },
  maxBytes: number = MAX_KEY_DOCUMENT_BYTES,
): Promise<unknown> {
  return (await fetchJsonWithHeaders(url, init, maxBytes)).body;
}

/**
 * {@link fetchJson} that also hands back the response headers, for a caller that schedules its
 * next fetch on the IdP's `Cache-Control` (the operator, RFC 9111 §5.2.2.1).
 *
 * @example
 * ```ts
 * const { body, headers } = await fetchJsonWithHeaders(jwksUrl, { signal });
 * parseMaxAge(headers.get('cache-control'));
 * ```
 */
export async function fetchJsonWithHeaders(
  url: URL,
  init: { signal: AbortSignal; headers?: Headers | Record<string, string> },
  maxBytes: number = MAX_KEY_DOCUMENT_BYTES,
): Promise<{ body: unknown; headers: Headers }> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: init.signal, headers: init.headers });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new KeyFetchError('http_error', `${url.href} answered HTTP ${response.status}`);
    }
    const text = await readLimited(response, maxBytes, url);
    try {
      return { body: JSON.parse(text) as unknown, headers: response.headers };
    } catch (cause) {
      throw new KeyFetchError('invalid', `${url.href} did not return JSON`, { cause });
    }
  } catch (error) {
    if (error instanceof KeyFetchError) throw error;
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new KeyFetchError('timeout', `${url.href} did not answer in time`, { cause: error });
    }
    throw new KeyFetchError('network_error', `${url.href} could not be fetched: ${(error as Error)?.message}`, { cause: error });
  }
}

async function readLimited(response: Response, maxBytes: number, url: URL): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new KeyFetchError('too_large', `${url.href} body is ${declared} bytes; limit ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body === null) return '';
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    // Leaving the loop by throwing cancels the stream, so the rest is never downloaded.
    if (size > maxBytes) throw new KeyFetchError('too_large', `${url.href} body exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
