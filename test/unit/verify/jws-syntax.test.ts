// Unit tests of the pre-crypto token checks: every malformed input maps to one exact reason code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DenyError, type ReasonCode } from '../../../authz/reasons.ts';
import { parseUnverifiedJws } from '../../../authz/verify/jws-syntax.ts';
import { craftToken, segment } from '../../../dev/fixtures/tokens.ts';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
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
    it(`refuses ${name} as token_malformed`, () => {
      assertDenied(token, 'token_malformed');
    });
  }

  describe('canonical base64url in every segment (RFC 4648 §3.5, §5)', () => {
    // {"alg":"RS256","kid":"k1"} is 26 bytes → 35 characters (4n+3: 2 pad bits), ending in 'Q'.
    const h = segment(HEADER);
    // {"iss":"https://issuer.test","sub":"alice"} is 43 bytes → 58 characters (4n+2: 4 pad bits), ending in '0'.
    const p = segment(PAYLOAD);
    /** 'sig' (3 characters, 4n+3) decodes to the 2 bytes 0xb2 0x28; 'sih' decodes to the same two. */
    const SIGNATURE = 'sig';

    it('the fixtures have pad bits where this test flips them', () => {
      assert.equal(h.length % 4, 3);
      assert.equal(p.length % 4, 2);
      assert.deepEqual(Buffer.from('sih', 'base64url'), Buffer.from(SIGNATURE, 'base64url'));
      assert.ok(parseUnverifiedJws(`${h}.${p}.${SIGNATURE}`));
    });

    const rows: [name: string, token: string, description: RegExp][] = [
      ['a header whose last character has a pad bit set', `${flipLast(h, 1)}.${p}.${SIGNATURE}`, /token header is not canonical base64url/],
      [
        'a payload whose last character has a pad bit set',
        `${h}.${flipLast(p, 8)}.${SIGNATURE}`,
        /token payload is not canonical base64url/,
      ],
      ['a signature whose last character has a pad bit set', `${h}.${p}.sih`, /token signature is not canonical base64url/],
      // {"alg":"RS256"} encodes to 20 characters; Buffer would silently drop a 21st and decode it fine.
      ['a header of length 4n+1', `${segment({ alg: 'RS256' })}A.${p}.${SIGNATURE}`, /token header has an impossible base64url length/],
      ['a payload of length 4n+1', `${h}.${p}AAA.${SIGNATURE}`, /token payload has an impossible base64url length/],
      ['a signature of length 4n+1', `${h}.${p}.AAAAA`, /token signature has an impossible base64url length/],
      ['a one-character signature', `${h}.${p}.A`, /token signature has an impossible base64url length/],
    ];
    for (const [name, token, description] of rows) {
      it(`refuses ${name} as token_malformed`, () => {
        assert.match(assertDenied(token, 'token_malformed').description, description);
      });
    }

    it('property: flipping pad bits of the last character of any segment is refused; the canonical token is accepted', () => {
      const header = fc.record(
        {
          alg: fc.constantFrom('RS256', 'ES256', 'PS384', 'EdDSA', 'HS256'),
          kid: fc.string(),
          typ: fc.option(fc.constantFrom('JWT', 'at+jwt'), { nil: undefined }),
        },
        { requiredKeys: ['alg'] },
      );
      const payload = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }));
      const signature = fc.uint8Array({ minLength: 0, maxLength: 600 });
      fc.assert(
        fc.property(header, payload, signature, fc.nat(2), fc.integer({ min: 1, max: 15 }), (hdr, pld, sig, which, bits) => {
          const segments = [segment(hdr), segment(pld), Buffer.from(sig).toString('base64url')];
          const canonical = segments.join('.');
          const decoded = parseUnverifiedJws(canonical, Number.MAX_SAFE_INTEGER);
          assert.deepEqual(decoded.unverifiedHeader, JSON.parse(JSON.stringify(hdr)));
          assert.deepEqual(decoded.unverifiedPayload, JSON.parse(JSON.stringify(pld)));

          const target = segments[which] ?? '';
          const remainder = target.length % 4;
          fc.pre(remainder !== 0); // a 4n segment has no pad bits to flip
          const mask = bits & (remainder === 2 ? 0b1111 : 0b11);
          fc.pre(mask !== 0);
          const altered = segments.with(which, flipLast(target, mask));
          // The dangerous case: the altered segment still decodes to exactly the same bytes.
          assert.deepEqual(Buffer.from(altered[which] ?? '', 'base64url'), Buffer.from(target, 'base64url'));
          assertDenied(altered.join('.'), 'token_malformed', Number.MAX_SAFE_INTEGER);
        }),
        { numRuns: 500 },
      );
    });
  });

  it('refuses a 5-part JWE with a description saying encrypted tokens are not accepted', () => {
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn';
    const error = assertDenied(jwe, 'token_malformed');
    assert.match(error.description, /encrypted tokens \(JWE\) are not accepted/);
  });

  const badHeader: [string, string][] = [
    ['not base64url JSON', `bm90IGpzb24.${segment(PAYLOAD)}.sig`],
    ['a JSON array', `${segment([1, 2])}.${segment(PAYLOAD)}.sig`],
    ['JSON null', `${segment('null')}.${segment(PAYLOAD)}.sig`],
    ['invalid UTF-8', `${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${segment(PAYLOAD)}.sig`],
    ['alg not a string', craftToken({ alg: 256 }, PAYLOAD)],
    ['kid not a string', craftToken({ alg: 'RS256', kid: 7 }, PAYLOAD)],
    ['typ not a string', craftToken({ alg: 'RS256', typ: ['JWT'] }, PAYLOAD)],
  ];
  for (const [name, token] of badHeader) {
    it(`refuses a header that is ${name} as header_invalid`, () => {
      assertDenied(token, 'header_invalid');
    });
  }

  const badPayload: [string, string][] = [
    ['not JSON', `${segment(HEADER)}.${segment('iss=me')}.sig`],
    ['a JSON string', `${segment(HEADER)}.${segment('"hello"')}.sig`],
    ['a JSON array', `${segment(HEADER)}.${segment(['iss'])}.sig`],
  ];
  for (const [name, token] of badPayload) {
    it(`refuses a payload that is ${name} as payload_invalid`, () => {
      assertDenied(token, 'payload_invalid');
    });
  }

  for (const alg of ['none', 'None', 'NONE', 'nOnE', undefined]) {
    it(`refuses alg ${String(alg)} as alg_none`, () => {
      assertDenied(craftToken({ alg }, PAYLOAD, ''), 'alg_none');
    });
  }

  for (const name of ['jku', 'x5u', 'jwk', 'x5c']) {
    it(`refuses a header carrying ${name}`, () => {
      assertDenied(
        craftToken({ ...HEADER, [name]: name === 'jwk' ? { kty: 'oct', k: 'AAAA' } : 'https://evil.example/k' }, PAYLOAD),
        'header_key_source_forbidden',
      );
    });
  }

  it('refuses any crit, including b64 (RFC 7797)', () => {
    assertDenied(craftToken({ ...HEADER, crit: ['b64'], b64: false }, PAYLOAD), 'header_crit_unsupported');
    assertDenied(craftToken({ ...HEADER, crit: ['exp'] }, PAYLOAD), 'header_crit_unsupported');
  });
});

/** `text` with the 6-bit value of its last character XORed with `mask`. */
function flipLast(text: string, mask: number): string {
  const value = BASE64URL.indexOf(text.at(-1) ?? '');
  assert.ok(value >= 0, `last character of ${text} is not base64url`);
  return text.slice(0, -1) + BASE64URL.charAt(value ^ mask);
}
