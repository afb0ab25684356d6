/**
 * What each resource's status should say after a reconcile, from the compiler's diagnostics,
 * the published snapshot and the operator's key state. Pure; condition times are filled in by
 * next-status.ts.
 *
 * ```
 *  Accepted      False ◀─ schema, cross-field, regex, path, conflict diagnostics (their reason)
 *  ResolvedRefs  False ◀─ issuer/Secret references and key material; a policy whose issuer has
 *                         no keys yet (IssuerKeysUnavailable); Unknown while not Accepted
 *  Ready         True  ◀─ enforced by the published snapshot (and its issuer has keys)
 *  KeysAvailable        (JWTIssuer) static keys, fetched keys, stale keys, or none
 *  Conflicted           (policies) another policy of the same scope claims a route
 * ```
 *
 * A JWTHostGrant has only Accepted and Ready (it refers to nothing), and `status.namespaces`:
 * what its grant in the published snapshot gives, which is what the router reads. A grant that
 * stops compiling keeps its last good version in the snapshot (compiler/compile.ts), so Ready
 * then says False `KeepingLastGood` and `namespaces` shows that version's, not the spec's.
 *
 * A JWTPolicy with targetRefs also gets `status.ancestors` (GEP-713 PolicyAncestorStatus): one
 * entry per ancestor the compiler found (compiler/policy-ancestors.ts), the first
 * {@link MAX_ANCESTORS}, each with controllerName {@link CONTROLLER_NAME} and one `Accepted`
 * condition (True Accepted, or False TargetNotFound, Conflicted or Invalid). The policy's own
 * conditions stay as they are: Accepted there says whether the spec can be enforced at all (with
 * jwtgate's finer reasons, such as TargetNotAccepted), Ready whether the snapshot enforces it.
 *
 * Warnings never make a resource not Ready; they are listed in Accepted's message. A namespaced
 * policy naming a host not granted to its namespace (`HostNotGranted`) is still Ready, and its
 * Ready message says which shared-gateway hosts it does not decide (DESIGN.md "Tenants").
 *
 * @example
 * ```ts
 * const desired = computeDesiredStatuses({ resources, diagnostics, snapshot, keyState: (id) => store.state(id) });
 * desired.get('JWTPolicy/shop/api')?.conditions;
 * ```
 */
import { hostOwners, type HostOwners } from '../../snapshot/host-owners.ts';
import type { HostGrant, Snapshot, SnapshotIssuer, SnapshotPolicy } from '../../snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Diagnostic, type DiagnosticReason } from '../../compiler/diagnostics.ts';
import { MAX_ANCESTORS, type AncestorRef, type PolicyAttachment } from '../../compiler/policy-ancestors.ts';
import type { Resource } from '../../compiler/resources.ts';
import type { RemoteKeyState } from '../keys/remote-key-store.ts';
import { CONDITION_REASONS, CONDITION_TYPES, type DesiredCondition } from './conditions.ts';

/** JWTIssuer `status.keys` (crds/jwtissuers.jwtgate.dev.yaml). */
export interface IssuerKeysSummary {
  /** Number of usable keys. */
  count: number;
  /** Their `kid`s (keys without one are counted only). */
  keyIds: string[];
  /** When the keys in use were first fetched (remote issuers). */
  fetchedAt?: string;
  /** When the operator last tried to fetch them (remote issuers). */
  lastFetchTime?: string;
  /** The last fetch error, cleared by a success. */
  lastError?: string;
}

export interface DesiredStatus {
  observedGeneration?: number;
  conditions: DesiredCondition[];
  /** JWTIssuer only. */
  keys?: IssuerKeysSummary;
  /**
   * JWTHostGrant only: the namespaces its grant in the published snapshot gives its hosts to,
   * sorted, the first {@link MAX_STATUS_NAMESPACES} (the CRD's `maxItems`); absent while the
   * grant is not in the snapshot.
   */
  namespaces?: string[];
  /** JWTPolicy with targetRefs only: its GEP-713 ancestors, sorted by ancestorRef. */
  ancestors?: DesiredAncestor[];
}

/** One `status.ancestors` entry (Gateway API PolicyAncestorStatus) before its transition times. */
export interface DesiredAncestor {
  ancestorRef: AncestorRef;
  controllerName: string;
  conditions: DesiredCondition[];
}

/**
 * The `controllerName` of the ancestor entries jwtgate's operator writes (GEP-713: entries are
 * keyed by ancestorRef and controllerName; it is a domain-prefixed path like a GatewayClass's).
 */
export const CONTROLLER_NAME = 'jwtgate.dev/operator';

export interface StatusInput {
  resources: readonly Resource[];
  diagnostics: readonly Diagnostic[];
  /** The compiler's GEP-713 verdicts per JWTPolicy with targetRefs (CompileResult.attachments); absent = none. */
  attachments?: readonly PolicyAttachment[];
  /** The snapshot now published (with cachedKeys embedded). */
  snapshot: Snapshot;
  keyState: (issuerId: string) => RemoteKeyState | undefined;
}

/** Diagnostics about what a resource refers to (issuers, Secrets, key material) rather than its own spec. */
const REFERENCE_REASONS: ReadonlySet<DiagnosticReason> = new Set([
  DIAGNOSTIC_REASONS.SecretNotFound,
  DIAGNOSTIC_REASONS.SecretKeyNotFound,
  DIAGNOSTIC_REASONS.InvalidKey,
  DIAGNOSTIC_REASONS.NoUsableKey,
  DIAGNOSTIC_REASONS.AlgorithmMismatch,
  DIAGNOSTIC_REASONS.IssuerNotFound,
  DIAGNOSTIC_REASONS.IssuerNotReady,
]);

/** Condition messages stay readable in `kubectl describe`; the full list is in the operator log. */
const MAX_MESSAGE_CHARS = 1024;

/** JWTHostGrant `status.namespaces` holds at most this many (crds/jwthostgrants.jwtgate.dev.yaml). */
export const MAX_STATUS_NAMESPACES = 64;

/**
 * The desired status of every resource, keyed by `Kind/namespace/name` (`Kind/name` when
 * cluster-scoped), the same form as a snapshot policy id.
 *
 * @example
 * ```ts
 * computeDesiredStatuses(input).get('JWTIssuer/shop/idp')?.keys?.keyIds; // ['k1']
 * ```
 */
export function computeDesiredStatuses(input: StatusInput): Map<string, DesiredStatus> {
  const byResource = new Map<string, Diagnostic[]>();
  for (const d of input.diagnostics) {
    const key = statusKey(d.resource.kind, d.resource.namespace, d.resource.name);
    byResource.set(key, [...(byResource.get(key) ?? []), d]);
  }
  const enforcedPolicies = new Map(input.snapshot.policies.map((p) => [p.id, p]));
  const grants = new Map(input.snapshot.grants.map((g) => [g.id, g]));
  // The router's reading of the grants (snapshot/host-owners.ts), so a status says what requests get.
  const owners = hostOwners(input.snapshot.grants);
  const attachments = new Map(
    (input.attachments ?? []).map((a) => [statusKey(a.resource.kind, a.resource.namespace, a.resource.name), a] as const),
  );
  const out = new Map<string, DesiredStatus>();
  for (const resource of input.resources) {
    const {
      kind,
      metadata: { namespace, name, generation },
    } = resource;
    const key = statusKey(kind, namespace, name);
    const diagnostics = byResource.get(key) ?? [];
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const specErrors = errors.filter((d) => !REFERENCE_REASONS.has(d.reason));
    const refErrors = errors.filter((d) => REFERENCE_REASONS.has(d.reason));
    const warnings = diagnostics.filter((d) => d.severity === 'warning');
    const conditions: DesiredCondition[] = [];
    const condition = (type: string, status: DesiredCondition['status'], reason: string, message: string): void => {
      conditions.push({
        type,
        status,
        reason,
        message: truncate(message),
        ...(generation === undefined ? {} : { observedGeneration: generation }),
      });
    };

    condition(
      CONDITION_TYPES.Accepted,
      specErrors.length === 0 ? 'True' : 'False',
      specErrors[0]?.reason ?? CONDITION_REASONS.Accepted,
      specErrors.length > 0
        ? describe(specErrors)
        : warnings.length > 0
          ? `accepted with warnings: ${describe(warnings)}`
          : 'the spec is valid',
    );

    const notPublished = (): void =>
      condition(
        CONDITION_TYPES.Ready,
        'False',
        CONDITION_REASONS.NotEnforced,
        errors.length > 0 ? `not in the published snapshot: ${describe(errors)}` : 'not in the published snapshot',
      );
    if (kind === 'JWTHostGrant') {
      const granted = grants.get(key); // a grant's snapshot id is its status key
      if (granted === undefined) notPublished();
      else if (errors.length > 0)
        // Only a grant that does not compile has errors; the compiler kept its last good version.
        condition(
          CONDITION_TYPES.Ready,
          'False',
          CONDITION_REASONS.KeepingLastGood,
          `its last good version stays in force until it is fixed (${describeGrant(granted)}): ${describe(errors)}`,
        );
      else
        condition(
          CONDITION_TYPES.Ready,
          'True',
          CONDITION_REASONS.Enforced,
          `granted by the published snapshot: ${describeGrant(granted)}${sharedHosts(granted, owners)}`,
        );
      out.set(key, {
        conditions,
        ...(generation === undefined ? {} : { observedGeneration: generation }),
        ...(granted === undefined ? {} : { namespaces: [...granted.namespaces].sort().slice(0, MAX_STATUS_NAMESPACES) }),
      });
      continue;
    }

    const issuerId = `${namespace ?? ''}/${name}`;
    const issuer = kind === 'JWTIssuer' ? input.snapshot.issuers[issuerId] : undefined;
    const policy = kind === 'JWTIssuer' ? undefined : enforcedPolicies.get(key);
    const keyless =
      kind === 'JWTIssuer'
        ? issuer !== undefined && !hasKeys(issuer)
          ? [issuerId]
          : []
        : (policy?.issuers ?? [])
            .map((r) => r.issuerId)
            .filter((id) => {
              const i = input.snapshot.issuers[id];
              return i !== undefined && !hasKeys(i);
            });

    if (specErrors.length > 0)
      condition(
        CONDITION_TYPES.ResolvedRefs,
        'Unknown',
        CONDITION_REASONS.NotEvaluated,
        'references are checked once the spec is accepted',
      );
    else if (refErrors.length > 0)
      condition(CONDITION_TYPES.ResolvedRefs, 'False', refErrors[0]?.reason ?? CONDITION_REASONS.NotEvaluated, describe(refErrors));
    else if (kind !== 'JWTIssuer' && keyless.length > 0)
      condition(
        CONDITION_TYPES.ResolvedRefs,
        'False',
        CONDITION_REASONS.IssuerKeysUnavailable,
        `issuer ${keyless.join(', ')} has no keys yet; its tokens are refused with 503 keys_unavailable`,
      );
    else condition(CONDITION_TYPES.ResolvedRefs, 'True', CONDITION_REASONS.ResolvedRefs, 'all references resolved');

    const enforced = kind === 'JWTIssuer' ? issuer !== undefined : policy !== undefined;
    if (policy?.mode === 'invalid')
      condition(
        CONDITION_TYPES.Ready,
        'False',
        CONDITION_REASONS.FailingClosed,
        `its routes are denied with 503 policy_invalid until it is fixed: ${describe(errors)}`,
      );
    else if (!enforced) notPublished();
    else if (keyless.length > 0)
      condition(
        CONDITION_TYPES.Ready,
        'False',
        kind === 'JWTIssuer' ? CONDITION_REASONS.KeysUnavailable : CONDITION_REASONS.IssuerKeysUnavailable,
        `enforced, but issuer ${keyless.join(', ')} has no keys yet: requests get 503 keys_unavailable`,
      );
    else
      condition(
        CONDITION_TYPES.Ready,
        'True',
        CONDITION_REASONS.Enforced,
        `enforced by the published snapshot${whereEnforced(policy)}${ungrantedHosts(policy, owners)}`,
      );

    if (kind !== 'JWTIssuer') {
      // Errors on the refused or contested policy, warnings on the holder that keeps the route: both say so.
      const conflicts = diagnostics.filter((d) => d.reason === DIAGNOSTIC_REASONS.RouteConflict);
      if (conflicts.length > 0) condition(CONDITION_TYPES.Conflicted, 'True', DIAGNOSTIC_REASONS.RouteConflict, describe(conflicts));
      else condition(CONDITION_TYPES.Conflicted, 'False', CONDITION_REASONS.NoConflicts, 'no other policy claims these routes or hosts');
    }

    const status: DesiredStatus = { conditions, ...(generation === undefined ? {} : { observedGeneration: generation }) };
    const attachment = kind === 'JWTPolicy' ? attachments.get(key) : undefined;
    if (attachment !== undefined) status.ancestors = desiredAncestors(attachment, generation);
    if (kind === 'JWTIssuer') {
      const keys = issuer === undefined ? undefined : summarizeKeys(issuer, input.keyState(issuerId));
      conditions.push({
        ...keysCondition(issuer, input.keyState(issuerId)),
        ...(generation === undefined ? {} : { observedGeneration: generation }),
      });
      if (keys !== undefined) status.keys = keys;
    }
    out.set(key, status);
  }
  return out;
}

/**
 * The key under which {@link computeDesiredStatuses} files a resource.
 *
 * @example
 * ```ts
 * statusKey('ClusterJWTPolicy', undefined, 'corp'); // 'ClusterJWTPolicy/corp'
 * ```
 */
export function statusKey(kind: string, namespace: string | undefined, name: string): string {
  return namespace === undefined ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

/**
 * GEP-713 `status.ancestors` from the compiler's verdicts: the first {@link MAX_ANCESTORS} (the
 * compiler refuses a policy that reaches more, TooManyAncestors, so none is lost from an enforced one).
 */
function desiredAncestors(attachment: PolicyAttachment, generation: number | undefined): DesiredAncestor[] {
  return attachment.ancestors.slice(0, MAX_ANCESTORS).map((a) => ({
    ancestorRef: a.ancestorRef,
    controllerName: CONTROLLER_NAME,
    conditions: [
      {
        type: CONDITION_TYPES.Accepted,
        status: a.accepted ? 'True' : 'False',
        reason: a.reason,
        message: truncate(a.message),
        ...(generation === undefined ? {} : { observedGeneration: generation }),
      },
    ],
  }));
}

function keysCondition(issuer: SnapshotIssuer | undefined, state: RemoteKeyState | undefined): DesiredCondition {
  const type = CONDITION_TYPES.KeysAvailable;
  if (issuer === undefined)
    return { type, status: 'Unknown', reason: CONDITION_REASONS.NotEvaluated, message: 'the issuer is not in the snapshot' };
  if (issuer.keySource.kind === 'static') {
    const count = issuer.keySource.jwks.keys.length;
    return count > 0
      ? { type, status: 'True', reason: CONDITION_REASONS.StaticKeys, message: `${count} static key(s)` }
      : { type, status: 'False', reason: CONDITION_REASONS.KeysUnavailable, message: 'no usable static key' };
  }
  const count = issuer.cachedKeys?.jwks.keys.length ?? 0;
  if (count === 0) {
    return {
      type,
      status: 'False',
      reason: CONDITION_REASONS.KeysUnavailable,
      message: state?.lastError === undefined ? 'keys not fetched yet' : `no keys: ${state.lastError}`,
    };
  }
  if (state?.lastError !== undefined) {
    return {
      type,
      status: 'True',
      reason: CONDITION_REASONS.KeysStale,
      message: `the last fetch failed (${state.lastError}); still using ${count} key(s) fetched at ${issuer.cachedKeys?.fetchedAt}`,
    };
  }
  return { type, status: 'True', reason: CONDITION_REASONS.KeysFetched, message: `${count} key(s) fetched` };
}

function summarizeKeys(issuer: SnapshotIssuer, state: RemoteKeyState | undefined): IssuerKeysSummary {
  const jwks = issuer.keySource.kind === 'static' ? issuer.keySource.jwks : issuer.cachedKeys?.jwks;
  const keys = jwks?.keys ?? [];
  return {
    count: keys.length,
    // HMAC secrets have kids too, but a kid is not secret; key material never goes to status.
    keyIds: keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : [])),
    ...(issuer.cachedKeys === undefined ? {} : { fetchedAt: issuer.cachedKeys.fetchedAt }),
    ...(state?.lastFetchTime === undefined ? {} : { lastFetchTime: state.lastFetchTime }),
    ...(state?.lastError === undefined ? {} : { lastError: truncate(state.lastError) }),
  };
}

function hasKeys(issuer: SnapshotIssuer): boolean {
  const jwks = issuer.keySource.kind === 'static' ? issuer.keySource.jwks : issuer.cachedKeys?.jwks;
  return (jwks?.keys.length ?? 0) > 0;
}

function describe(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => (d.field === undefined ? d.message : `${d.field}: ${d.message}`)).join('; ');
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS ? message : `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

/** For a ClusterJWTPolicy with a namespaceSelector: which namespaces it reaches, so "Ready" never hides "nowhere". */
function whereEnforced(policy: SnapshotPolicy | undefined): string {
  if (policy?.scope.kind !== 'cluster' || policy.scope.namespaces === undefined) return '';
  const { namespaces } = policy.scope;
  if (namespaces.length === 0) return ', but its namespaceSelector matches no namespace yet';
  const shown = namespaces.slice(0, 10).join(', ');
  return ` in ${namespaces.length === 1 ? 'namespace' : `${namespaces.length} namespaces:`} ${shown}${namespaces.length > 10 ? ', …' : ''}`;
}

/** `api.example.com, *.shop.example.com to namespaces a, b`, for a grant's Ready message. */
function describeGrant(grant: HostGrant): string {
  const { namespaces } = grant;
  const to =
    namespaces.length === 0
      ? "to no namespace (its namespaceSelector matches none yet), so these hosts are nobody's: requests a policy names are denied 403 host_not_granted"
      : `to ${namespaces.length === 1 ? 'namespace' : `${namespaces.length} namespaces:`} ${namespaces.slice(0, 10).join(', ')}${namespaces.length > 10 ? ', …' : ''}`;
  return `${grant.hosts.join(', ')} ${to}`;
}

/**
 * The grant's hosts that another grant gives to other namespaces too: the cluster admin should
 * know that those namespaces now share them, and that equal claims there are refused. (One grant
 * to several namespaces shares its hosts on purpose and gets no note.)
 */
function sharedHosts(grant: HostGrant, owners: (host: string) => HostOwners | undefined): string {
  const shared = grant.hosts.flatMap((host) => {
    const owned = owners(host);
    if (owned === undefined || owned.pattern !== host || owned.namespaces.size < 2) return [];
    const others = owned.grants.filter((id) => id !== grant.id);
    if (others.length === 0) return [];
    return [`${host} (${[...others].sort().join(', ')}; namespaces ${[...owned.namespaces].sort().slice(0, 10).join(', ')})`];
  });
  if (shared.length === 0) return '';
  return `; also granted by other grants: ${shared.join(', ')}: policies of these namespaces that name such a host decide a shared gateway's requests, and a request that policies of two of them match equally well is denied 503 route_contested`;
}

/**
 * For a namespaced policy that names hosts its namespace is not granted: Ready stays True (it
 * decides the traffic reported as its namespace's), but says which shared-gateway hosts it does
 * not decide, so "Ready" never hides "not on the gateway". The hosts are read through the same
 * grants the router reads; the compiler's HostNotGranted warning in Accepted says why.
 */
function ungrantedHosts(policy: SnapshotPolicy | undefined, owners: (host: string) => HostOwners | undefined): string {
  if (policy?.scope.kind !== 'namespaced') return '';
  const { namespace } = policy.scope;
  const hosts = [...new Set(policy.targets.flatMap((t) => t.hosts))].filter((h) => owners(h)?.namespaces.has(namespace) !== true).sort();
  if (hosts.length === 0) return '';
  const shown = hosts.slice(0, 10).join(', ') + (hosts.length > 10 ? ', …' : '');
  return ` for the requests the proxy reports as namespace ${namespace}'s, but not for a shared gateway's requests to ${shown}, which no JWTHostGrant gives namespace ${namespace} (HostNotGranted, see Accepted)`;
}
