// Unit tests of the pre-crypto token checks: every malformed input maps to one exact reason code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DenyError, type ReasonCode } from '../../../authz/reasons.ts';
import { parseUnverifiedJws } from '../../../authz/verify/jws-syntax.ts';
import { craftToken, segment } from '../../support/tokens.ts';

const HEADER = { alg: 'RS256', kid: 'k1' };
const PAYLOAD = { iss: 'https://issuer.test', sub: 'alice' };
/** A syntactically valid token: {"alg":"RS256","kid":"k1"} . {"iss":…,"sub":"alice"} . "signature" */
const VALID = craftToken(HEADER, PAYLOAD);

function assertDenied(token: string, code: ReasonCode, maxBytes?: number): DenyError {
  let caught: unknown;
  try {
    parseUnverifiedJws(token, maxBytes);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DenyError, `expected DenyError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

describe('parseUnverifiedJws', () => {
  it('decodes header and payload of a well-formed token', () => {
    const { unverifiedHeader, unverifiedPayload } = parseUnverifiedJws(VALID);
    assert.deepEqual(unverifiedHeader, HEADER);
    assert.deepEqual(unverifiedPayload, PAYLOAD);
  });

  it('accepts an empty signature segment syntactically (alg decides later)', () => {
    assert.deepEqual(parseUnverifiedJws(craftToken(HEADER, PAYLOAD, '')).unverifiedHeader, HEADER);
  });

  it('refuses tokens over the size cap before reading them', () => {
    assertDenied(VALID, 'token_too_large', VALID.length - 1);
    assert.ok(parseUnverifiedJws(VALID, VALID.length));
    assertDenied(`${'a'.repeat(9000)}.b.c`, 'token_too_large');
  });

  const malformed: [string, string][] = [
    ['empty', ''],
    ['one part', segment(HEADER)],
    ['two parts', `${segment(HEADER)}.${segment(PAYLOAD)}`],
    ['four parts', `${VALID}.x`],
    ['empty header segment', `.${segment(PAYLOAD)}.sig`],
    ['empty payload segment', `${segment(HEADER)}..sig`],
    ['leading space', ` ${VALID}`],
    ['trailing newline', `${VALID}\n`],
    ['inner space', VALID.replace('.', ' .')],
    ['padding', `${segment(HEADER)}=.${segment(PAYLOAD)}.sig`],
    ['standard base64 +', `${segment(HEADER)}.${segment(PAYLOAD)}.ab+c`],
    ['standard base64 /', `${segment(HEADER)}.${segment(PAYLOAD)}.ab/c`],
    ['non-ASCII', `${segment(HEADER)}.${segment(PAYLOAD)}.sïg`],
    ['Bearer prefix left in', `Bearer ${VALID}`],
  ];
  for (const [name, token] of malformed) {
    it(`refuses ${name} as token_malformed`, () => { assertDenied(token, 'token_malformed'); });
  }

  it('refuses a 5-part JWE with a description saying encrypted tokens are not accepted', () => {
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn';
    const error = assertDenied(jwe, 'token_malformed');
    assert.match(error.description, /encrypted tokens \(JWE\) are not accepted/);
  });

  const badHeader: [string, string][] = [
    ['not base64url JSON', `bm90IGpzb24.${segment(PAYLOAD)}.sig`],
    // {"alg":"RS256"} encodes to 20 chars; Buffer would silently drop a 21st and decode it fine.
    ['impossible base64 length (4n+1)', `${segment({ alg: 'RS256' })}A.${segment(PAYLOAD)}.sig`],
    ['a JSON array', `${segment([1, 2])}.${segment(PAYLOAD)}.sig`],
    ['JSON null', `${segment('null')}.${segment(PAYLOAD)}.sig`],
    ['invalid UTF-8', `${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${segment(PAYLOAD)}.sig`],
    ['alg not a string', craftToken({ alg: 256 }, PAYLOAD)],
    ['kid not a string', craftToken({ alg: 'RS256', kid: 7 }, PAYLOAD)],
    ['typ not a string', craftToken({ alg: 'RS256', typ: ['JWT'] }, PAYLOAD)],
  ];
  for (const [name, token] of badHeader) {
    it(`refuses a header that is ${name} as header_invalid`, () => { assertDenied(token, 'header_invalid'); });
  }

  const badPayload: [string, string][] = [
    ['not JSON', `${segment(HEADER)}.${segment('iss=me')}.sig`],
    ['a JSON string', `${segment(HEADER)}.${segment('"hello"')}.sig`],
    ['a JSON array', `${segment(HEADER)}.${segment(['iss'])}.sig`],
  ];
  for (const [name, token] of badPayload) {
    it(`refuses a payload that is ${name} as payload_invalid`, () => { assertDenied(token, 'payload_invalid'); });
  }

  for (const alg of ['none', 'None', 'NONE', 'nOnE', undefined]) {
    it(`refuses alg ${String(alg)} as alg_none`, () => { assertDenied(craftToken({ alg }, PAYLOAD, ''), 'alg_none'); });
  }

  for (const name of ['jku', 'x5u', 'jwk', 'x5c']) {
    it(`refuses a header carrying ${name}`, () => {
      assertDenied(craftToken({ ...HEADER, [name]: name === 'jwk' ? { kty: 'oct', k: 'AAAA' } : 'https://evil.example/k' }, PAYLOAD), 'header_key_source_forbidden');
    });
  }

  it('refuses any crit, including b64 (RFC 7797)', () => {
    assertDenied(craftToken({ ...HEADER, crit: ['b64'], b64: false }, PAYLOAD), 'header_crit_unsupported');
    assertDenied(craftToken({ ...HEADER, crit: ['exp'] }, PAYLOAD), 'header_crit_unsupported');
  });
});
