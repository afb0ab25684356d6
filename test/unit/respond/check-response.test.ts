// Unit tests for toCheckResponse: allow mutations, RFC 6750 challenges, deny bodies, Struct metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllowDecision, DenyDecision } from '../../../authz/decision.ts';
import { REASONS, type ReasonCode } from '../../../authz/reasons.ts';
import { bearerChallenge, toCheckResponse, toStruct, type HeaderValueOption } from '../../../authz/respond/check-response.ts';
import { packageDefinition } from '../../../authz/server/protos.ts';

function allow(overrides: Partial<AllowDecision> = {}): AllowDecision {
  return { kind: 'allow', reason: 'allowed', headersToSet: [], headersToRemove: [], queryParametersToRemove: [], metadata: {}, trace: [], ...overrides };
}

function deny(reason: ReasonCode, overrides: Partial<DenyDecision> = {}): DenyDecision {
  return {
    kind: 'deny', reason, description: REASONS[reason].description,
    deny: { realm: 'shop', exposeReason: true, headers: [] }, trace: [], ...overrides,
  };
}

function header(headers: HeaderValueOption[], name: string): string | undefined {
  return headers.find((h) => h.header.key === name)?.header.value;
}

test('allow: OK status, headers with both overwrite flags, removals', () => {
  const res = toCheckResponse(allow({
    headersToSet: [{ name: 'x-user-id', value: 'alice' }],
    headersToRemove: ['authorization'],
    queryParametersToRemove: ['access_token'],
  }));
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
  const res = toCheckResponse(allow({
    metadata: { sub: 'alice', n: 1.5, ok: true, none: null, skipped: undefined, roles: ['a', 2], nested: { deep: { x: false } }, when: new Date(0), inf: Infinity },
  }));
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
  assert.equal(header(denied.headers, 'www-authenticate'),
    'Bearer realm="shop", error="invalid_token", error_description="token expired 42s ago"');
  assert.equal(header(denied.headers, 'content-type'), 'application/json');
  for (const h of denied.headers) {
    assert.deepEqual(h.append, { value: false });
    assert.equal(h.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
  }
  assert.deepEqual(JSON.parse(denied.body), { error: 'invalid_token', error_description: 'token expired 42s ago', reason: 'token_expired' });
});

test('token_missing: challenge without error= (RFC 6750 §3.1)', () => {
  const denied = toCheckResponse(deny('token_missing')).denied_response!;
  assert.equal(denied.status.code, 'Unauthorized');
  assert.equal(header(denied.headers, 'www-authenticate'), 'Bearer realm="shop"');
  assert.deepEqual(JSON.parse(denied.body), { error: 'unauthorized', error_description: 'a bearer token is required', reason: 'token_missing' });
});

test('rule_failed: 403 with error="insufficient_scope"', () => {
  const res = toCheckResponse(deny('rule_failed'));
  assert.equal(res.status.code, 7);
  assert.equal(res.denied_response!.status.code, 'Forbidden');
  assert.equal(header(res.denied_response!.headers, 'www-authenticate'),
    'Bearer realm="shop", error="insufficient_scope", error_description="token does not grant access to this resource"');
  assert.equal(JSON.parse(res.denied_response!.body).error, 'insufficient_scope');
});

test('deny: dynamic metadata names the reason, policy, issuer and subject for access logs', () => {
  const res = toCheckResponse(deny('rule_failed', { policyId: 'JWTPolicy/shop/orders', issuerId: 'shop/idp', subject: 'alice' }));
  assert.deepEqual(res.dynamic_metadata, toStruct({ reason: 'rule_failed', policy: 'JWTPolicy/shop/orders', issuer: 'shop/idp', sub: 'alice' }));
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
  const denied = toCheckResponse(deny('token_missing', { deny: { realm: 'r', exposeReason: true, headers: [{ name: 'x-deny', value: '1' }] } })).denied_response!;
  assert.deepEqual(denied.headers.map((h) => h.header.key), ['www-authenticate', 'content-type', 'x-deny']);
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

test('every reason code maps to a status Envoy can carry and a matching gRPC code', () => {
  const statusEnum = packageDefinition['envoy.type.v3.StatusCode'] as unknown as { type: { value: { name: string; number: number }[] } };
  const numberOf = new Map(statusEnum.type.value.map((v) => [v.name, v.number]));
  for (const [reason, info] of Object.entries(REASONS) as [ReasonCode, (typeof REASONS)[ReasonCode]][]) {
    if (info.status === 200) {
      assert.equal(toCheckResponse(allow({ reason })).status.code, 0, reason);
      assert.throws(() => toCheckResponse(deny(reason)), TypeError, reason);
      continue;
    }
    const res = toCheckResponse(deny(reason));
    assert.notEqual(res.status.code, 0, reason);
    assert.equal(numberOf.get(res.denied_response!.status.code), info.status, reason);
    assert.throws(() => toCheckResponse(allow({ reason })), TypeError, reason);
  }
});
