// Unit tests for toCheckResponse: allow mutations, RFC 6750 challenges, deny bodies, Struct metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllowDecision, DenyDecision } from '../../../authz/decision.ts';
import { DenyError, REASONS, type AllowReason, type DenyReason, type ReasonCode } from '../../../authz/reasons.ts';
import { bearerChallenge, toCheckResponse, toStruct, type HeaderValueOption } from '../../../authz/respond/check-response.ts';
import { packageDefinition } from '../../../authz/server/protos.ts';

function allow(overrides: Partial<AllowDecision> = {}): AllowDecision {
  return {
    kind: 'allow',
    reason: 'allowed',
    headersToSet: [],
    headersToRemove: [],
    queryParametersToRemove: [],
    metadata: {},
    trace: [],
    ...overrides,
  };
}

function deny(reason: DenyReason, overrides: Partial<DenyDecision> = {}): DenyDecision {
  return {
    kind: 'deny',
    reason,
    description: REASONS[reason].description,
    deny: { realm: 'shop', exposeReason: true, headers: [] },
    trace: [],
    ...overrides,
  };
}

function header(headers: HeaderValueOption[], name: string): string | undefined {
  return headers.find((h) => h.header.key === name)?.header.value;
}

test('allow: OK status, headers with both overwrite flags, removals', () => {
  const res = toCheckResponse(
    allow({
      headersToSet: [{ name: 'x-user-id', value: 'alice' }],
      headersToRemove: ['authorization'],
      queryParametersToRemove: ['access_token'],
    }),
  );
  assert.deepEqual(res.status, { code: 0, message: 'allowed' });
  assert.equal(res.denied_response, undefined);
  assert.deepEqual(res.ok_response, {
    headers: [{ header: { key: 'x-user-id', value: 'alice' }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    headers_to_remove: ['authorization'],
    query_parameters_to_remove: ['access_token'],
  });
  assert.equal(res.dynamic_metadata, undefined);
});

test('allow: metadata becomes a google.protobuf.Struct', () => {
  const res = toCheckResponse(
    allow({
      metadata: {
        sub: 'alice',
        n: 1.5,
        ok: true,
        none: null,
        skipped: undefined,
        roles: ['a', 2],
        nested: { deep: { x: false } },
        when: new Date(0),
        inf: Infinity,
      },
    }),
  );
  assert.deepEqual(res.dynamic_metadata, {
    fields: {
      sub: { stringValue: 'alice' },
      n: { numberValue: 1.5 },
      ok: { boolValue: true },
      none: { nullValue: 'NULL_VALUE' },
      roles: { listValue: { values: [{ stringValue: 'a' }, { numberValue: 2 }] } },
      nested: { structValue: { fields: { deep: { structValue: { fields: { x: { boolValue: false } } } } } } },
      when: { stringValue: '1970-01-01T00:00:00.000Z' },
      inf: { nullValue: 'NULL_VALUE' },
    },
  });
});

test('toStruct refuses data JSON cannot carry', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => toStruct(cyclic), TypeError);
  assert.throws(() => toStruct({ big: 1n }), TypeError);
});

test('deny 401 invalid token: exact WWW-Authenticate, JSON body, PERMISSION_DENIED', () => {
  const res = toCheckResponse(deny('token_expired', { description: 'token expired 42s ago' }));
  assert.deepEqual(res.status, { code: 7, message: 'token_expired' });
  assert.equal(res.ok_response, undefined);
  const denied = res.denied_response!;
  assert.deepEqual(denied.status, { code: 'Unauthorized' });
  assert.equal(
    header(denied.headers, 'www-authenticate'),
    'Bearer realm="shop", error="invalid_token", error_description="token expired 42s ago"',
  );
  assert.equal(header(denied.headers, 'content-type'), 'application/json');
  for (const h of denied.headers) {
    assert.deepEqual(h.append, { value: false });
    assert.equal(h.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
  }
  assert.deepEqual(JSON.parse(denied.body), {
    error: 'invalid_token',
    error_description: 'token expired 42s ago',
    reason: 'token_expired',
  });
});

test('token_missing: challenge without error= (RFC 6750 §3.1)', () => {
  const denied = toCheckResponse(deny('token_missing')).denied_response!;
  assert.equal(denied.status.code, 'Unauthorized');
  assert.equal(header(denied.headers, 'www-authenticate'), 'Bearer realm="shop"');
  assert.deepEqual(JSON.parse(denied.body), {
    error: 'unauthorized',
    error_description: 'a bearer token is required',
    reason: 'token_missing',
  });
});

test('rule_failed: 403 with error="insufficient_scope"', () => {
  const res = toCheckResponse(deny('rule_failed'));
  assert.equal(res.status.code, 7);
  assert.equal(res.denied_response!.status.code, 'Forbidden');
  assert.equal(
    header(res.denied_response!.headers, 'www-authenticate'),
    'Bearer realm="shop", error="insufficient_scope", error_description="token does not grant access to this resource"',
  );
  assert.equal(JSON.parse(res.denied_response!.body).error, 'insufficient_scope');
});

test('deny: dynamic metadata names the reason, policy, issuer and subject for access logs', () => {
  const res = toCheckResponse(deny('rule_failed', { policyId: 'JWTPolicy/shop/orders', issuerId: 'shop/idp', subject: 'alice' }));
  assert.deepEqual(
    res.dynamic_metadata,
    toStruct({ reason: 'rule_failed', policy: 'JWTPolicy/shop/orders', issuer: 'shop/idp', sub: 'alice' }),
  );
  assert.deepEqual(toCheckResponse(deny('token_missing')).dynamic_metadata, toStruct({ reason: 'token_missing' }));
});

test('no_policy: 403 without a challenge', () => {
  const denied = toCheckResponse(deny('no_policy')).denied_response!;
  assert.equal(denied.status.code, 'Forbidden');
  assert.equal(header(denied.headers, 'www-authenticate'), undefined);
  assert.equal(JSON.parse(denied.body).error, 'forbidden');
});

test('503 reasons: ServiceUnavailable and UNAVAILABLE, no challenge', () => {
  for (const reason of ['keys_unavailable', 'not_ready', 'internal_error'] as const) {
    const res = toCheckResponse(deny(reason));
    assert.deepEqual(res.status, { code: 14, message: reason });
    assert.equal(res.denied_response!.status.code, 'ServiceUnavailable');
    assert.equal(header(res.denied_response!.headers, 'www-authenticate'), undefined);
    assert.equal(JSON.parse(res.denied_response!.body).error, 'unavailable');
  }
});

test('request_invalid: 400 BadRequest with INVALID_ARGUMENT', () => {
  const res = toCheckResponse(deny('request_invalid'));
  assert.equal(res.status.code, 3);
  assert.equal(res.denied_response!.status.code, 'BadRequest');
});

test('exposeReason false hides the reason and the description, keeps the error class', () => {
  const denied = toCheckResponse(deny('signature_invalid', { deny: { realm: 'shop', exposeReason: false, headers: [] } })).denied_response!;
  assert.equal(header(denied.headers, 'www-authenticate'), 'Bearer realm="shop", error="invalid_token"');
  assert.deepEqual(JSON.parse(denied.body), { error: 'invalid_token' });
});

test('policy deny headers are added with overwrite semantics after the defaults', () => {
  const denied = toCheckResponse(
    deny('token_missing', { deny: { realm: 'r', exposeReason: true, headers: [{ name: 'x-deny', value: '1' }] } }),
  ).denied_response!;
  assert.deepEqual(
    denied.headers.map((h) => h.header.key),
    ['www-authenticate', 'content-type', 'x-deny'],
  );
  assert.ok(denied.headers.every((h) => h.append_action === 'OVERWRITE_IF_EXISTS_OR_ADD' && h.append.value === false));
});

test('challenge values are quote-escaped and the description is cleaned (RFC 6750 §3)', () => {
  assert.equal(
    bearerChallenge({ realm: 'a "b" \\c\r\nSet-Cookie: x', bearerError: 'invalid_token', description: 'bad "kid" \\x\r\n\u0000é' }),
    'Bearer realm="a \\"b\\" \\\\cSet-Cookie: x", error="invalid_token", error_description="bad \'kid\' x"',
  );
  const denied = toCheckResponse(deny('claim_invalid', { description: 'line1\r\nline2' })).denied_response!;
  assert.doesNotMatch(header(denied.headers, 'www-authenticate')!, /[\r\n]/);
  assert.equal(JSON.parse(denied.body).error_description, 'line1\r\nline2');
});

/** [Envoy status name, gRPC code, body `error`, WWW-Authenticate: none | bare | with error=]. */
type OnTheWire = [string, number, string, 'none' | 'bare' | 'error'];

/**
 * Every reason's answer on the wire, written out by hand from RFC 6750 §3.1 (invalid_token →
 * 401, invalid_request → 400, insufficient_scope → 403; a missing token gets a challenge without
 * an error) and our own choices, not derived from REASONS: a change to the table must change this.
 * Its type pins the allow/deny split derived from REASONS to this hand-written one: a code that
 * moves between allow and deny there fails to type-check here.
 */
const ON_THE_WIRE: { [Code in AllowReason]: 'allow' } & { [Code in DenyReason]: OnTheWire } = {
  allowed: 'allow',
  anonymous: 'allow',
  check_disabled: 'allow',
  unmatched_allowed: 'allow',
  token_missing: ['Unauthorized', 7, 'unauthorized', 'bare'],
  token_ambiguous: ['BadRequest', 3, 'invalid_request', 'error'],
  credentials_malformed: ['BadRequest', 3, 'invalid_request', 'error'],
  token_too_large: ['Unauthorized', 7, 'invalid_token', 'error'],
  token_malformed: ['Unauthorized', 7, 'invalid_token', 'error'],
  header_invalid: ['Unauthorized', 7, 'invalid_token', 'error'],
  payload_invalid: ['Unauthorized', 7, 'invalid_token', 'error'],
  alg_none: ['Unauthorized', 7, 'invalid_token', 'error'],
  alg_not_allowed: ['Unauthorized', 7, 'invalid_token', 'error'],
  header_key_source_forbidden: ['Unauthorized', 7, 'invalid_token', 'error'],
  header_crit_unsupported: ['Unauthorized', 7, 'invalid_token', 'error'],
  typ_invalid: ['Unauthorized', 7, 'invalid_token', 'error'],
  issuer_missing: ['Unauthorized', 7, 'invalid_token', 'error'],
  issuer_untrusted: ['Unauthorized', 7, 'invalid_token', 'error'],
  kid_unknown: ['Unauthorized', 7, 'invalid_token', 'error'],
  signature_invalid: ['Unauthorized', 7, 'invalid_token', 'error'],
  token_expired: ['Unauthorized', 7, 'invalid_token', 'error'],
  token_not_yet_valid: ['Unauthorized', 7, 'invalid_token', 'error'],
  token_too_old: ['Unauthorized', 7, 'invalid_token', 'error'],
  claim_missing: ['Unauthorized', 7, 'invalid_token', 'error'],
  claim_invalid: ['Unauthorized', 7, 'invalid_token', 'error'],
  audience_mismatch: ['Unauthorized', 7, 'invalid_token', 'error'],
  rule_failed: ['Forbidden', 7, 'insufficient_scope', 'error'],
  header_value_invalid: ['Forbidden', 7, 'forbidden', 'none'],
  no_policy: ['Forbidden', 7, 'forbidden', 'none'],
  host_not_granted: ['Forbidden', 7, 'forbidden', 'none'],
  request_invalid: ['BadRequest', 3, 'bad_request', 'none'],
  namespace_invalid: ['BadRequest', 3, 'bad_request', 'none'],
  namespace_conflict: ['BadRequest', 3, 'bad_request', 'none'],
  request_too_large: ['PayloadTooLarge', 3, 'content_too_large', 'none'],
  keys_unavailable: ['ServiceUnavailable', 14, 'unavailable', 'none'],
  policy_invalid: ['ServiceUnavailable', 14, 'unavailable', 'none'],
  route_contested: ['ServiceUnavailable', 14, 'unavailable', 'none'],
  not_ready: ['ServiceUnavailable', 14, 'unavailable', 'none'],
  internal_error: ['ServiceUnavailable', 14, 'unavailable', 'none'],
};

test('every reason code has its pinned answer on the wire: HTTP status, gRPC code, error, challenge', async (t) => {
  assert.deepEqual(
    Object.keys(ON_THE_WIRE).sort(),
    Object.keys(REASONS).sort(),
    'a reason without a pinned answer (or a pinned one that is gone)',
  );
  const statusEnum = packageDefinition['envoy.type.v3.StatusCode'] as unknown as { type: { value: { name: string; number: number }[] } };
  const names = new Set(statusEnum.type.value.map((v) => v.name));
  // The casts below build what the types forbid (a kind and a reason that disagree), as a
  // decision read back from the wire could: toCheckResponse still refuses it at run time.
  for (const [reason, expected] of Object.entries(ON_THE_WIRE) as [ReasonCode, 'allow' | OnTheWire][]) {
    await t.test(reason, () => {
      if (expected === 'allow') {
        assert.equal(toCheckResponse(allow({ reason: reason as AllowReason })).status.code, 0);
        assert.throws(() => toCheckResponse(deny(reason as DenyReason)), TypeError);
        return;
      }
      const [status, grpc, error, challenge] = expected;
      assert.ok(names.has(status), `${status} is an envoy.type.v3.StatusCode`);
      const res = toCheckResponse(deny(reason as DenyReason));
      assert.deepEqual(
        [res.denied_response!.status.code, res.status.code, JSON.parse(res.denied_response!.body).error],
        [status, grpc, error],
      );
      const wwwAuthenticate = header(res.denied_response!.headers, 'www-authenticate');
      if (challenge === 'none') assert.equal(wwwAuthenticate, undefined);
      else if (challenge === 'bare') assert.equal(wwwAuthenticate, 'Bearer realm="shop"');
      else assert.ok(wwwAuthenticate?.startsWith(`Bearer realm="shop", error="${error}", error_description="`), wwwAuthenticate);
      assert.throws(() => toCheckResponse(allow({ reason: reason as AllowReason })), TypeError);
    });
  }
});

// Checked by `tsc` (the typecheck lane), not at run time: each @ts-expect-error must meet an error,
// or tsc reports the directive as unused and fails.
test('a reason that disagrees with its decision kind, or a DenyError with an allow code, does not compile', () => {
  // @ts-expect-error an allow code on a deny
  const denyWithAllowCode: DenyDecision['reason'] = 'allowed';
  // @ts-expect-error a deny code on an allow
  const allowWithDenyCode: AllowDecision['reason'] = 'token_missing';
  // @ts-expect-error DenyError takes deny codes only
  const denyErrorWithAllowCode = () => new DenyError('anonymous');
  assert.ok([denyWithAllowCode, allowWithDenyCode, denyErrorWithAllowCode]);
});
