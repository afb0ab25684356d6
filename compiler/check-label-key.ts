/**
 * Kubernetes label-key syntax (apimachinery `IsQualifiedName`), the same test the CRD's CEL rule
 * on `workloadSelector.matchLabels` runs, so standalone mode refuses exactly what the API server
 * refuses.
 *
 * @example
 * ```ts
 * isLabelKey('app.kubernetes.io/name'); // true
 * isLabelKey('-app');                   // false
 * ```
 */

/**
 * `[prefix/]name`: an optional DNS-1123 subdomain and '/', then 1-63 alphanumerics, '-', '_' or
 * '.', starting and ending alphanumeric. Word for word the regex in the CRD's CEL rule (RE2 and
 * ECMAScript read it alike).
 *
 * @example
 * ```ts
 * new RegExp(LABEL_KEY_PATTERN).test('tier'); // true
 * ```
 */
export const LABEL_KEY_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

/** 253 (DNS subdomain prefix) + '/' + 63 (name): the CEL rule's `size(k) <= 317`. */
const MAX_LABEL_KEY_LENGTH = 317;

const LABEL_KEY = new RegExp(LABEL_KEY_PATTERN);

/**
 * Whether `key` is a valid Kubernetes label key.
 *
 * @example
 * ```ts
 * isLabelKey('example.com/tier'); // true
 * isLabelKey('Example.com/tier'); // false: the prefix is a lower-case DNS subdomain
 * ```
 */
export function isLabelKey(key: string): boolean {
  return key.length <= MAX_LABEL_KEY_LENGTH && LABEL_KEY.test(key);
}
