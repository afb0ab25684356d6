/**
 * Admits an exact or prefix path of a policy: it must be in the form requests are matched in.
 *
 * @example
 * ```ts
 * checkPath('/orders', 'spec.targets[0].paths[0].prefix', fail); // '/orders', nothing reported
 * ```
 */
import { normalizePath, PathRefusedError } from '../common/normalize-path.ts';
import { DIAGNOSTIC_REASONS, type DiagnosticReason } from './diagnostics.ts';

/** Reports an error about one field of the resource being compiled. */
export type Fail = (field: string, reason: DiagnosticReason, message: string) => void;

/**
 * Requests are matched on their decision path (common/normalize-path.ts), so a rule
 * written in another form (`%7E`, `%3a`) would silently never match: refuse it and name the form
 * that would. A form every request is refused in (`/api/./x`, `/api//x`, `/a;b`) is refused
 * with the reason. Used for a policy's own paths (compile-policy.ts) and for the paths of
 * targeted HTTPRoutes (compile-route-refs.ts).
 *
 * @example
 * ```ts
 * checkPath('/a/%7Ex', 'spec.targets[0].paths[0].exact', fail); // fails: write "/a/~x"
 * ```
 */
export function checkPath(value: string, field: string, fail: Fail): string {
  try {
    const normal = normalizePath(value);
    if (normal.query !== '' || value.includes('?') || value.includes('#')) {
      fail(field, DIAGNOSTIC_REASONS.InvalidPath, `"${value}" has a query or fragment; paths are matched without them`);
    } else if (normal.path !== value) {
      fail(
        field,
        DIAGNOSTIC_REASONS.InvalidPath,
        `"${value}" is not in normal form; requests are matched after normalization, write "${normal.path}"`,
      );
    }
  } catch (err) {
    const why = err instanceof PathRefusedError ? err.description : String(err);
    fail(field, DIAGNOSTIC_REASONS.InvalidPath, `"${value}" can never match a request: ${why}`);
  }
  return value;
}
