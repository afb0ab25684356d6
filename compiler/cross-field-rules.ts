/**
 * The CRDs' CEL `x-kubernetes-validations`, re-checked in TypeScript for standalone mode (ajv
 * cannot run CEL). Each message is the CEL rule's message, word for word; a test compares the
 * two sets so they cannot drift. Runs only on a spec that passed its schema.
 *
 * @example
 * ```ts
 * crossFieldErrors('JWTIssuer', { issuer: 'https://idp', algorithms: ['RS256'], … });
 * // [{ field: 'spec', message: CROSS_FIELD_MESSAGES.oneKeySource }]
 * ```
 */
import type { FieldError } from './schema.ts';
import type {
  ClusterJWTPolicySpec,
  IssuerRefSpec,
  JWTHostGrantSpec,
  JWTIssuerSpec,
  JWTPolicySpec,
  LabelSelector,
  ResourceKind,
  TokenSourceSpec,
} from './resources.ts';
import { isSecureUrl } from './check-url.ts';
import { isLabelKey } from './check-label-key.ts';

/** The CEL messages, keyed by rule. */
export const CROSS_FIELD_MESSAGES = {
  oneKeySource: 'exactly one key source must be set: jwksUri, discovery, jwks or secretRef',
  hmacNeedsSecretRef: 'HS256, HS384 and HS512 need their secret from a secretRef',
  noMixedAlgorithms: 'HMAC (HS*) and public-key algorithms cannot be mixed in one issuer',
  hmacFormatOnlyHs: 'a secretRef with format HMAC can only serve HS256, HS384 and HS512',
  keyIdOnlyHmac: 'keyId is only for format HMAC: a JWK Set names its own kids and PEM keys get their thumbprints',
  discoveryNeedsUrlIssuer: 'discovery without url needs an issuer that is an https URL (http only for localhost, 127.0.0.1 and ::1)',
  secureUrl: 'must be an https URL (http only for localhost, 127.0.0.1 and ::1)',
  noRegisteredClaimMapping: 'claimMappings cannot overwrite a registered claim (iss, sub, aud, exp, nbf, iat, jti)',
  issuersUnlessDisabled: 'issuers are required unless mode is Disabled',
  oneIssuerList: 'exactly one of anyOf or allOf must be set',
  audiencesOrWaiver: 'audiences and skipAudienceCheck: true are mutually exclusive',
  oneTokenSource: 'exactly one of header, query or cookie must be set',
  onePathMatch: 'exactly one of exact, prefix or regex must be set',
  selectorValues: 'values must be non-empty for In and NotIn and absent for Exists and DoesNotExist',
  grantNamespaces: 'name the namespaces, select them, or both',
  oneTargetKind: 'exactly one of targets or targetRefs must be set',
  noSelectorWithTargetRefs: 'workloadSelector narrows targets to sidecar workloads and cannot be combined with targetRefs',
  labelKeys:
    "label keys must be [prefix/]name: an optional DNS subdomain prefix, then 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric",
} as const;

const M = CROSS_FIELD_MESSAGES;
const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/**
 * Every cross-field violation in a schema-valid spec, with field paths rooted at `spec`.
 *
 * @example
 * ```ts
 * crossFieldErrors('JWTPolicy', { targets: [{}], mode: 'Required', … }); // issuers missing
 * // [{ field: 'spec', message: 'issuers are required unless mode is Disabled' }]
 * ```
 */
export function crossFieldErrors(kind: ResourceKind, spec: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string): void => {
    errors.push({ field, message });
  };
  if (kind === 'JWTIssuer') checkIssuer(spec as JWTIssuerSpec, fail);
  else if (kind === 'JWTHostGrant') checkGrant(spec as JWTHostGrantSpec, fail);
  else checkPolicy(spec as ClusterJWTPolicySpec, fail);
  return errors;
}

type Fail = (field: string, message: string) => void;

function exactlyOne(...present: boolean[]): boolean {
  return present.filter(Boolean).length === 1;
}

function checkIssuer(spec: JWTIssuerSpec, fail: Fail): void {
  const isHmac = (alg: string): boolean => alg.startsWith('HS');
  if (!exactlyOne(spec.jwksUri !== undefined, spec.discovery !== undefined, spec.jwks !== undefined, spec.secretRef !== undefined)) {
    fail('spec', M.oneKeySource);
  }
  if (spec.algorithms.some(isHmac) && spec.secretRef === undefined) fail('spec', M.hmacNeedsSecretRef);
  if (!spec.algorithms.every(isHmac) && !spec.algorithms.every((a) => !isHmac(a))) fail('spec', M.noMixedAlgorithms);
  if (spec.secretRef?.format === 'HMAC' && !spec.algorithms.every(isHmac)) fail('spec', M.hmacFormatOnlyHs);
  if (spec.secretRef?.keyId !== undefined && spec.secretRef.format !== 'HMAC') fail('spec.secretRef', M.keyIdOnlyHmac);
  if (spec.discovery !== undefined && spec.discovery.url === undefined && !isSecureUrl(spec.issuer)) {
    fail('spec', M.discoveryNeedsUrlIssuer);
  }
  if (spec.jwksUri !== undefined && !isSecureUrl(spec.jwksUri)) fail('spec.jwksUri', M.secureUrl);
  if (spec.discovery?.url !== undefined && !isSecureUrl(spec.discovery.url)) fail('spec.discovery.url', M.secureUrl);
  spec.claimMappings?.forEach((mapping, i) => {
    if (REGISTERED_CLAIMS.has(mapping.to)) fail(`spec.claimMappings[${i}]`, M.noRegisteredClaimMapping);
  });
}

function checkPolicy(spec: JWTPolicySpec & Partial<ClusterJWTPolicySpec>, fail: Fail): void {
  if (spec.mode !== 'Disabled' && spec.issuers === undefined) fail('spec', M.issuersUnlessDisabled);
  // A ClusterJWTPolicy's schema requires targets and has no targetRefs, so only a JWTPolicy can fail these.
  if ((spec.targets === undefined) === (spec.targetRefs === undefined)) fail('spec', M.oneTargetKind);
  if (spec.targetRefs !== undefined && spec.workloadSelector !== undefined) fail('spec', M.noSelectorWithTargetRefs);
  spec.targets?.forEach((target, t) => {
    target.paths?.forEach((path, p) => {
      if (!exactlyOne(path.exact !== undefined, path.prefix !== undefined, path.regex !== undefined)) {
        fail(`spec.targets[${t}].paths[${p}]`, M.onePathMatch);
      }
    });
  });
  if (spec.issuers !== undefined) {
    if (!exactlyOne(spec.issuers.anyOf !== undefined, spec.issuers.allOf !== undefined)) fail('spec.issuers', M.oneIssuerList);
    checkIssuerRefs(spec.issuers.anyOf, 'spec.issuers.anyOf', fail);
    checkIssuerRefs(spec.issuers.allOf, 'spec.issuers.allOf', fail);
  }
  checkTokenSources(spec.tokenSources, 'spec.tokenSources', fail);
  const labels = spec.workloadSelector?.matchLabels;
  if (labels !== undefined && !Object.keys(labels).every(isLabelKey)) fail('spec.workloadSelector.matchLabels', M.labelKeys);
  checkSelector(spec.namespaceSelector, fail);
}

function checkGrant(spec: JWTHostGrantSpec, fail: Fail): void {
  if (spec.namespaces === undefined && spec.namespaceSelector === undefined) fail('spec', M.grantNamespaces);
  checkSelector(spec.namespaceSelector, fail);
}

function checkSelector(selector: LabelSelector | undefined, fail: Fail): void {
  selector?.matchExpressions?.forEach((req, i) => {
    const needsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (needsValues !== (req.values !== undefined && req.values.length > 0)) {
      fail(`spec.namespaceSelector.matchExpressions[${i}]`, M.selectorValues);
    }
  });
}

function checkIssuerRefs(refs: IssuerRefSpec[] | undefined, field: string, fail: Fail): void {
  refs?.forEach((ref, i) => {
    if (ref.audiences !== undefined && ref.skipAudienceCheck === true) fail(`${field}[${i}]`, M.audiencesOrWaiver);
    checkTokenSources(ref.tokenSources, `${field}[${i}].tokenSources`, fail);
  });
}

function checkTokenSources(sources: TokenSourceSpec[] | undefined, field: string, fail: Fail): void {
  sources?.forEach((source, i) => {
    if (!exactlyOne(source.header !== undefined, source.query !== undefined, source.cookie !== undefined)) {
      fail(`${field}[${i}]`, M.oneTokenSource);
    }
  });
}
