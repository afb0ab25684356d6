/**
 * Host lookup in time proportional to the number of labels in the host, not to the number of
 * policies: a tree of reversed DNS labels where a `*` child holds the wildcard patterns
 * (the shape of Authorino's `pkg/index`).
 *
 * Patterns `api.example.com`, `example.com`, `*.example.com`, `*.eu.example.com` and any host:
 * ```
 *   (root) ─ com ─ example ─┬─ [exact: example.com]
 *                           ├─ api ─ [exact: api.example.com]
 *                           ├─ *   ─ [wildcard: *.example.com]
 *                           └─ eu  ─ * ─ [wildcard: *.eu.example.com]
 *   any host: kept beside the tree, always tried last
 * ```
 * Looking up `a.eu.example.com` walks com → example → eu → a, collecting wildcard values on the
 * way, and answers [`*.eu.example.com`, `*.example.com`, any host].
 *
 * Wildcard semantics, as Envoy's virtual host suffix match: `*.example.com` matches one OR MORE
 * labels in place of the `*` (`a.example.com` and `a.b.example.com`) and never `example.com`
 * itself. Order of the answer: exact, then wildcards from the longest suffix to the shortest,
 * then any host. Lookups are case-insensitive (RFC 4343) and ignore one trailing dot (a fully
 * qualified `example.com.` is the same host); the caller strips the port.
 *
 * @example
 * ```ts
 * const index = new HostIndex<string[]>();
 * index.upsert('*.example.com', () => []).push('wild');
 * index.upsert(undefined, () => []).push('any');
 * index.lookup('API.Example.com.'); // [['wild'], ['any']]
 * ```
 */
import type { HostPattern } from '../../snapshot/types.ts';

interface LabelNode<T> {
  children: Map<string, LabelNode<T>>;
  exact?: T;
  wildcard?: T;
}

/**
 * A host pattern → value map answering "which values apply to this host, most specific first".
 * Built once per snapshot, then only read.
 *
 * @example
 * ```ts
 * const index = new HostIndex<number>();
 * index.upsert('example.com', () => 1);
 * index.lookup('example.com'); // [1]
 * index.lookup('a.example.com'); // []
 * ```
 */
export class HostIndex<T> {
  readonly #root: LabelNode<T> = { children: new Map() };
  #anyHost: T | undefined;

  /**
   * Returns the value stored for `pattern` (`undefined` = any host), creating it with `create`
   * the first time.
   *
   * @example
   * ```ts
   * index.upsert('*.example.com', () => new Set<string>()).add('policy-a');
   * ```
   */
  upsert(pattern: HostPattern | undefined, create: () => T): T {
    if (pattern === undefined) {
      this.#anyHost ??= create();
      return this.#anyHost;
    }
    const wildcard = pattern.startsWith('*.');
    const labels = splitHost(wildcard ? pattern.slice(2) : pattern);
    if (labels === undefined || labels.some((label) => label.includes('*'))) {
      throw new TypeError(`invalid host pattern "${pattern}": only a leading "*." wildcard is allowed`);
    }
    let node = this.#root;
    for (const label of labels) {
      let child = node.children.get(label);
      if (child === undefined) {
        child = { children: new Map() };
        node.children.set(label, child);
      }
      node = child;
    }
    if (wildcard) {
      node.wildcard ??= create();
      return node.wildcard;
    }
    node.exact ??= create();
    return node.exact;
  }

  /**
   * Every stored value, in no particular order (to finish building them once the index is full).
   *
   * @example
   * ```ts
   * for (const bucket of index.values()) bucket.sort();
   * ```
   */
  *values(): Generator<T> {
    if (this.#anyHost !== undefined) yield this.#anyHost;
    const pending: LabelNode<T>[] = [this.#root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      if (node.exact !== undefined) yield node.exact;
      if (node.wildcard !== undefined) yield node.wildcard;
      pending.push(...node.children.values());
    }
  }

  /**
   * The values whose pattern matches `host` (no port), most specific first: exact, then the
   * wildcards from the longest suffix to the shortest, then any host.
   *
   * @example
   * ```ts
   * index.lookup('a.b.example.com'); // [valueFor('*.b.example.com'), valueFor('*.example.com'), valueForAnyHost]
   * ```
   */
  lookup(host: string): T[] {
    const found: T[] = [];
    const labels = splitHost(host);
    if (labels !== undefined) {
      let node: LabelNode<T> | undefined = this.#root;
      let depth = 0;
      while (node !== undefined) {
        // A wildcard at depth d needs at least one more label to stand for the '*'.
        if (node.wildcard !== undefined && depth < labels.length) found.push(node.wildcard);
        if (depth === labels.length) {
          if (node.exact !== undefined) found.push(node.exact);
          break;
        }
        node = node.children.get(labels[depth] as string);
        depth++;
      }
      // Collected shortest suffix first; exact (if any) was pushed last.
      found.reverse();
    }
    if (this.#anyHost !== undefined) found.push(this.#anyHost);
    return found;
  }
}

/** Lower-cased labels from the top-level domain down, or undefined for an empty label. */
function splitHost(host: string): string[] | undefined {
  const name = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
  const labels = name.split('.');
  if (labels.some((label) => label === '')) return undefined;
  return labels.reverse();
}
