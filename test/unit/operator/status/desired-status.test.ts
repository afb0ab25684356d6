// Diagnostics and the snapshot → conditions: spec problems on Accepted, references on ResolvedRefs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compile } from '../../../../compiler/compile.ts';
import type { Resource } from '../../../../compiler/resources.ts';
import { computeDesiredStatuses } from '../../../../operator/status/desired-status.ts';
import { schema } from '../../../support/schema.ts';

const issuer = (name: string, spec: object): Resource => ({
  apiVersion: 'jwtgate.dev/v1alpha1',
  kind: 'JWTIssuer',
  metadata: { name, namespace: 'shop', generation: 3 },
  spec,
});
const policy = (name: string, issuerName: string, extra: object = {}): Resource => ({
  apiVersion: 'jwtgate.dev/v1alpha1',
  kind: 'JWTPolicy',
  metadata: { name, namespace: 'shop', generation: 5 },
  spec: { targets: [{ hosts: [`${name}.example.com`] }], issuers: { anyOf: [{ name: issuerName }] }, ...extra },
});
const remote = issuer('idp', {
  issuer: 'https://idp.example',
  audiences: ['api'],
  algorithms: ['RS256'],
  jwksUri: 'https://idp.example/jwks',
});

function statuses(resources: Resource[], keyState = () => undefined) {
  const { snapshot, diagnostics } = compile({ schema, resources, now: new Date('2026-01-01T00:00:00Z') });
  return computeDesiredStatuses({ resources, diagnostics, snapshot, keyState });
}
const cond = (s: ReturnType<typeof statuses>, key: string, type: string) => s.get(key)?.conditions.find((c) => c.type === type);

test('a missing issuer: Accepted True, ResolvedRefs False IssuerNotFound, Ready False FailingClosed (its routes deny)', () => {
  const s = statuses([policy('api', 'nope')]);
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Accepted')?.status, 'True');
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.status, cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.reason],
    ['False', 'IssuerNotFound'],
  );
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'Ready')?.status, cond(s, 'JWTPolicy/shop/api', 'Ready')?.reason],
    ['False', 'FailingClosed'],
  );
  assert.match(cond(s, 'JWTPolicy/shop/api', 'Ready')?.message ?? '', /denied with 503 policy_invalid until it is fixed: .*nope/);
  assert.equal(s.get('JWTPolicy/shop/api')?.observedGeneration, 5);
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Ready')?.observedGeneration, 5);
});

test('an invalid regex: Accepted False with the diagnostic reason, ResolvedRefs Unknown', () => {
  const s = statuses([remote, policy('api', 'idp', { rules: [{ claim: 'sub', regex: '(a+)+$' }] })]);
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'Accepted')?.status, cond(s, 'JWTPolicy/shop/api', 'Accepted')?.reason],
    ['False', 'InvalidRegex'],
  );
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.status, 'Unknown');
});

test('a remote issuer without keys: the issuer and its policy say so', () => {
  const s = statuses([remote, policy('api', 'idp')], () => undefined);
  assert.deepEqual(
    [cond(s, 'JWTIssuer/shop/idp', 'KeysAvailable')?.status, cond(s, 'JWTIssuer/shop/idp', 'KeysAvailable')?.reason],
    ['False', 'KeysUnavailable'],
  );
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.reason, 'IssuerKeysUnavailable');
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Ready')?.reason, 'IssuerKeysUnavailable');
});

test('a static issuer: KeysAvailable StaticKeys, key ids in status.keys', () => {
  const {
    d: _d,
    p: _p,
    q: _q,
    dp: _dp,
    dq: _dq,
    qi: _qi,
    ...jwk
  } = JSON.parse(readFileSync('examples/keys/demo-private.jwk.json', 'utf8')) as Record<string, unknown>;
  const s = statuses([issuer('rs', { issuer: 'https://rs.example', audiences: ['a'], algorithms: ['RS256'], jwks: { keys: [jwk] } })]);
  assert.deepEqual(
    [cond(s, 'JWTIssuer/shop/rs', 'KeysAvailable')?.status, cond(s, 'JWTIssuer/shop/rs', 'KeysAvailable')?.reason],
    ['True', 'StaticKeys'],
  );
  assert.deepEqual(s.get('JWTIssuer/shop/rs')?.keys, { count: 1, keyIds: [jwk.kid] });
});

test('a host claimed by another namespace: Conflicted True RouteConflict on both, Ready False only on the refused claim', () => {
  const claim = (namespace: string, name: string, created: string): Resource => ({
    apiVersion: 'jwtgate.dev/v1alpha1',
    kind: 'JWTPolicy',
    metadata: { name, namespace, generation: 1, creationTimestamp: created },
    spec: { mode: 'Disabled', targets: [{ hosts: ['a.example'] }] },
  });
  const s = statuses([claim('a', 'first', '2026-01-01T00:00:00Z'), claim('b', 'takeover', '2026-01-02T00:00:00Z')]);
  const holder = cond(s, 'JWTPolicy/a/first', 'Conflicted');
  assert.deepEqual([holder?.status, holder?.reason], ['True', 'RouteConflict']);
  assert.match(holder?.message ?? '', /JWTPolicy\/b\/takeover also claims host a\.example and was refused; namespace a keeps a\.example/);
  assert.deepEqual([cond(s, 'JWTPolicy/a/first', 'Ready')?.status, cond(s, 'JWTPolicy/a/first', 'Accepted')?.status], ['True', 'True']);
  const conflicted = cond(s, 'JWTPolicy/b/takeover', 'Conflicted');
  assert.deepEqual([conflicted?.status, conflicted?.reason], ['True', 'RouteConflict']);
  assert.match(conflicted?.message ?? '', /a\.example/);
  assert.equal(cond(s, 'JWTPolicy/b/takeover', 'Ready')?.status, 'False');
});

test('a ClusterJWTPolicy says in Ready which namespaces it reaches, and when its selector matches none', () => {
  const cluster = (name: string, labels: Record<string, string>): Resource => ({
    apiVersion: 'jwtgate.dev/v1alpha1',
    kind: 'ClusterJWTPolicy',
    metadata: { name, generation: 1 },
    spec: { mode: 'Disabled', namespaceSelector: { matchLabels: labels }, targets: [{ hosts: [`${name}.example.com`] }] },
  });
  const resources = [cluster('some', { team: 'a' }), cluster('none', { team: 'z' })];
  const { snapshot, diagnostics } = compile({
    schema,
    resources,
    namespaces: [
      { name: 'shop', labels: { team: 'a' } },
      { name: 'bank', labels: { team: 'b' } },
    ],
    now: new Date(0),
  });
  const s = computeDesiredStatuses({ resources, diagnostics, snapshot, keyState: () => undefined });
  assert.equal(cond(s, 'ClusterJWTPolicy/some', 'Ready')?.message, 'enforced by the published snapshot in namespace shop');
  assert.equal(
    cond(s, 'ClusterJWTPolicy/none', 'Ready')?.message,
    'enforced by the published snapshot, but its namespaceSelector matches no namespace yet',
  );
});
