/**
 * Published JWS/JWT test vectors, copied byte for byte (data only) from their sources, for the
 * crypto paths: a verifier that accepts these and refuses them for the right reason agrees with
 * the specifications' authors and with Envoy's jwt_authn, not only with our own signer.
 *
 * Sources:
 * - RFC 7515 (JWS), Appendix A.1 (HS256), A.2 (RS256), A.3 (ES256). Their payload carries
 *   `exp` 1300819380 (2011-03-22T18:43:00Z): they are expired today, so tests use a fixed clock.
 * - RFC 7520 (JOSE Cookbook), §4.1 (RS256), §4.3 (ES512), §4.4 (HS256), with the keys of §3.3,
 *   §3.1 and §3.5. Their payload is a sentence, not a JWT claims set.
 * - Envoy, test/extensions/filters/http/jwt_authn/test_common.h (commit 040783c8c0b4): the
 *   provider's JWKS and tokens of its unit tests (`GoodToken`, `ExpiredToken`, ...).
 *
 * Each token's decoded header and payload are in its comment (`\r\n` where the RFC's JSON has a
 * CRLF inside the signed bytes).
 *
 * @example
 * ```ts
 * await verifyToken(ENVOY_GOOD_TOKEN, [candidate], { now: ENVOY_NOW });
 * ```
 */
import type { Jwk, JwkSet } from '../../snapshot/types.ts';

// ─── RFC 7515 Appendix A ──────────────────────────────────────────────────────────────────────

/** A moment before the RFC 7515 examples' `exp` (1300819380), so they are valid then. */
export const RFC7515_NOW = new Date(1_300_819_000 * 1000);
/** The `iss` of every RFC 7515 example. */
export const RFC7515_ISSUER = 'joe';

/** RFC 7515 A.1: the HMAC key (64 octets). */
export const RFC7515_A1_HS256_JWK: Jwk = {
  kty: 'oct',
  k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
};

/**
 * RFC 7515 A.1, HS256.
 * header  `{"typ":"JWT",\r\n "alg":"HS256"}`
 * payload `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`
 */
export const RFC7515_A1_HS256_TOKEN =
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9' +
  '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
  '.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

/** RFC 7515 A.2: the RSA public key (2048 bits). */
export const RFC7515_A2_RSA_JWK: Jwk = {
  kty: 'RSA',
  n:
    'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_' +
    'YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxv' +
    'b3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
  e: 'AQAB',
};

/**
 * RFC 7515 A.2, RS256.
 * header  `{"alg":"RS256"}`
 * payload `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`
 */
export const RFC7515_A2_RS256_TOKEN =
  'eyJhbGciOiJSUzI1NiJ9' +
  '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
  '.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBY' +
  'NX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7' +
  'noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw';

/** RFC 7515 A.3: the EC P-256 public key. */
export const RFC7515_A3_EC_JWK: Jwk = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

/**
 * RFC 7515 A.3, ES256.
 * header  `{"alg":"ES256"}`
 * payload `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`
 */
export const RFC7515_A3_ES256_TOKEN =
  'eyJhbGciOiJFUzI1NiJ9' +
  '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
  '.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q';

// ─── RFC 7520 §4 (JOSE Cookbook) ──────────────────────────────────────────────────────────────

/**
 * RFC 7520 Figure 8: the payload of every §4 example, base64url of the sentence
 * "It’s a dangerous business, Frodo, going out your door. You step onto the road, and if you
 * don't keep your feet, there’s no knowing where you might be swept off to."
 */
const RFC7520_PAYLOAD =
  'SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk' +
  'b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4';

/** RFC 7520 §3.3 Figure 3: the RSA 2048-bit public key. */
export const RFC7520_RSA_JWK: Jwk = {
  kty: 'RSA',
  kid: 'bilbo.baggins@hobbiton.example',
  use: 'sig',
  n:
    'n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbz' +
    'cEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-' +
    'tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw',
  e: 'AQAB',
};

/** RFC 7520 §3.1 Figure 1: the EC P-521 public key. */
export const RFC7520_EC_JWK: Jwk = {
  kty: 'EC',
  kid: 'bilbo.baggins@hobbiton.example',
  use: 'sig',
  crv: 'P-521',
  x: 'AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt',
  y: 'AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1',
};

/** RFC 7520 §3.5 Figure 5: the HMAC key (32 octets). */
export const RFC7520_HMAC_JWK: Jwk = {
  kty: 'oct',
  kid: '018c0ae5-4d9b-471b-bfd6-eef314bc7037',
  use: 'sig',
  alg: 'HS256',
  k: 'hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg',
};

/**
 * RFC 7520 §4.1 Figure 13, RS256 (RSASSA-PKCS1-v1_5).
 * header  `{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}`
 * payload the Figure 7 sentence (not JSON)
 */
export const RFC7520_4_1_RS256_JWS =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9' +
  `.${RFC7520_PAYLOAD}` +
  '.MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4J' +
  'IwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluP' +
  'xUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg';

/**
 * RFC 7520 §4.3 Figure 27, ES512 (ECDSA P-521).
 * header  `{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}`
 * payload the Figure 7 sentence (not JSON)
 */
export const RFC7520_4_3_ES512_JWS =
  'eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9' +
  `.${RFC7520_PAYLOAD}` +
  '.AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kv' +
  'AD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2';

/**
 * RFC 7520 §4.4 Figure 34, HS256.
 * header  `{"alg":"HS256","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}`
 * payload the Figure 7 sentence (not JSON)
 */
export const RFC7520_4_4_HS256_JWS =
  'eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9' +
  `.${RFC7520_PAYLOAD}` +
  '.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0';

// ─── Envoy jwt_authn test_common.h ────────────────────────────────────────────────────────────

/** The issuer and audience of Envoy's `ExampleConfig` provider. */
export const ENVOY_ISSUER = 'https://example.com';
export const ENVOY_AUDIENCE = 'example_service';
/** A moment before the good tokens' `exp` (2001001001, 2033-05-28) and after `ExpiredToken`'s. */
export const ENVOY_NOW = new Date(2_000_000_000 * 1000);

/**
 * `PublicKey`: the provider's JWKS. Two RS256 keys with the same modulus under two `kid`s, and a
 * third without `kid`. (Envoy's text has a trailing comma after the last key, which its lenient
 * parser accepts; it is dropped here.)
 */
export const ENVOY_PUBLIC_JWKS: JwkSet = {
  keys: [
    {
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      kid: '62a93512c9ee4c7f8067b5a216dade2763d32a47',
      n:
        'up97uqrF9MWOPaPkwSaBeuAPLOr9FKcaWGdVEGzQ4f3Zq5WKVZowx9TCBxmImNJ1qmUi13pB8otwM_l5lfY1AFBMxVbQCUXntLovhDaiSvYp4wGDjFzQiYA-pUq8h6M' +
        'UZBnhleYrkU7XlCBwNVyN8qNMkpLA7KFZYz-486GnV2NIJJx_4BGa3HdKwQGxi2tjuQsQvao5W4xmSVaaEWopBwMy2QmlhSFQuPUpTaywTqUcUq_6SfAHhZ4IDa_FxE' +
        'd2c2z8gFGtfst9cY3lRYf-c_ZdboY3mqN9Su3-j3z5r2SHWlhB_LNAjyWlBGsvbGPlTqDziYQwZN4aGsqVKQb9Vw',
      e: 'AQAB',
    },
    {
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      kid: 'b3319a147514df7ee5e4bcdee51350cc890cc89e',
      n:
        'up97uqrF9MWOPaPkwSaBeuAPLOr9FKcaWGdVEGzQ4f3Zq5WKVZowx9TCBxmImNJ1qmUi13pB8otwM_l5lfY1AFBMxVbQCUXntLovhDaiSvYp4wGDjFzQiYA-pUq8h6M' +
        'UZBnhleYrkU7XlCBwNVyN8qNMkpLA7KFZYz-486GnV2NIJJx_4BGa3HdKwQGxi2tjuQsQvao5W4xmSVaaEWopBwMy2QmlhSFQuPUpTaywTqUcUq_6SfAHhZ4IDa_FxE' +
        'd2c2z8gFGtfst9cY3lRYf-c_ZdboY3mqN9Su3-j3z5r2SHWlhB_LNAjyWlBGsvbGPlTqDziYQwZN4aGsqVKQb9Vw',
      e: 'AQAB',
    },
    {
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      n:
        'u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPg' +
        'izskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwx' +
        'XFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw',
      e: 'AQAB',
    },
  ],
};

/** `ES256PublicKey`: the P-256 key (`kid` abc) of Envoy's ES256 tokens. */
export const ENVOY_ES256_JWKS: JwkSet = {
  keys: [
    {
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      kid: 'abc',
      x: 'EB54wykhS7YJFD6RYJNnwbWEz3cI7CF5bCDTXlrwI5k',
      y: '92bCBTvMFQ8lKbS2MbgjT3YfmYo6HnPEE2tsAqWUJw8',
    },
  ],
};

/**
 * `GoodToken`.
 * header  `{"alg":"RS256","typ":"JWT"}` (no kid: every key of the set is a candidate)
 * payload `{"iss":"https://example.com","sub":"test@example.com","exp":2001001001,"aud":"example_service"}`
 */
export const ENVOY_GOOD_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImV4cCI6MjAwMTAwMTAwMSwiY' +
  'XVkIjoiZXhhbXBsZV9zZXJ2aWNlIn0.cuui_Syud76B0tqvjESE8IZbX7vzG6xA-MDaof1qEFNIoCFT_YQPkseLSUSR2Od3TJcNKk-dKjvUEL1JW3kGnyC1dBx4f3-Xxro' +
  'yL23UbR2eS8TuxO9ZcNCGkjfvH5O4mDb6cVkFHRDEolGhA7XwNiuVgkGJ5Wkrvshih6nqKXcPNaRx9lOaRWg2PkE6ySNoyju7rNfunXYtVxPuUIkl0KMq3WXWRb_cb8a_Z' +
  'EprqSZUzi_ZzzYzqBNVhIJujcNWij7JRra2sXXiSAfKjtxHQoxrX8n4V1ySWJ3_1TH_cJcdfS_RKP7YgXRWC0L16PNF5K7iqRqmjKALNe83ZFnFIw';

/**
 * `GoodTokenWithSpaces`.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","exp":2001001001,"aud":"example_service",
 *          "scope":"read write","test_string":"test_value","test_num":1337}`
 */
export const ENVOY_GOOD_TOKEN_WITH_SPACES =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImV4cCI6MjAwMTAwMTAwMS' +
  'wiYXVkIjoiZXhhbXBsZV9zZXJ2aWNlIiwic2NvcGUiOiJyZWFkIHdyaXRlIiwidGVzdF9zdHJpbmciOiJ0ZXN0X3ZhbHVl' +
  'IiwidGVzdF9udW0iOjEzMzd9.cKTwWSJgS0TZ3Ajc9QrAA50Me7j1zVv9YzDT_' +
  '2UE5jlCs5vWkdWjUb2r7MYaqximXj3affDZdDsUxMaqqR7lWT2EbxOoEceBkCMmakgSs8tjZ210w0YTU0OyhrrxsyxUpsp' +
  'PeRzPIHQTUdN7zU_KkMcUU1yDSlnJxqlYXyTL9E-DhTnLwoOdgFGiQs-md_QJfdOFgXQqU71EZ-' +
  'Ofxen8EFl10wbzHubMHGLJqVfFzK-iuVr2P0OZ0ymWvPGwQdlVMojHx3P0Yb8MRbhdW04hCJq-_' +
  'fTE1RNb6ja1JBFQbyGcQTtWVSdkHZ_C8syd8s-aK4C8_VhwNEDviOVrHPbztw';

/**
 * `NestedGoodToken`.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","aud":"example_service","exp":2001001001,
 *          "nested":{"key-1":"value1","nested-2":{"key-2":"value2","key-3":true,"key-4":9999,"key-5":["str1","str2"]}}}`
 */
export const ENVOY_NESTED_GOOD_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImF1ZCI6ImV4YW1wbGVfc2' +
  'VydmljZSIsImV4cCI6MjAwMTAwMTAwMSwibmVzdGVkIjp7ImtleS0xIjoidmFsdWUxIiwibmVzdGVkLTIiOnsia2V5LTIi' +
  'OiJ2YWx1ZTIiLCJrZXktMyI6dHJ1ZSwia2V5LTQiOjk5OTksImtleS01IjpbInN0cjEiLCJzdHIyIl19fX0.' +
  'uCXNQUSualacToI0gyXz5NStad2aNBfZHiLB5mTddy-uV8Dxsa8U81NwDHGlvNksmMTodBwIeEYJ0ISkl03kKN_' +
  'VepiEpNNWJNpgOcdTqAE9-aGip-kGWZAavJS6r3fystUGIjXyI9EKNEqeUFCihpiII-' +
  'MTbcqdaSzwdbJPeGQzHyensPG6BfDjdv39b_gdO_eH1azaVwi4HnChoJcsGrBjsH6-IyJVR6Ux_' +
  '43fo3Wbs0SB82hLpiWPsucO7l4CyII5d5jPQbAM9ajcvAmh7FprIsf35acOT2bQ8dmrSD9KSjsYomkF_OAci-' +
  'osyRzYOgkGHIDGDyjj87xaPPuzIw';

/**
 * `NonExpiringToken` (Envoy's comment says `"exp":null`; the signed payload has no `exp` and no
 * `aud` at all). No key of {@link ENVOY_PUBLIC_JWKS} verifies its signature: Envoy's tests refuse
 * it for the missing `exp` before they reach the signature.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","iat":1533175942}`
 */
export const ENVOY_NON_EXPIRING_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUu' +
  'Y29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImlhdCI6MTUzMzE3NTk0Mn0.OSh-' +
  'AcY9dCUibXiIZzPlTdEsYH8xP3QkCJDesO3LVu4ndgTrxDnNuR3I4_oV4tjtirmLZD3sx' +
  '96wmLiIhOyqj3nipIdf_aQWcmET0XoRqGixOKse5FlHyU_VC1Jj9AlMvSz9zyCvKxMyP0' +
  'CeA-bhI_Qs-I9vBPK8pd-EUOespUqWMQwNdtrOdXLcvF8EA5BV5G2qRGzCU0QJaW0Dpyj' +
  'YF7ZCswRGorc2oMt5duXSp3-L1b9dDrnLwroxUrmQIZz9qvfwdDR-guyYSjKVQu5NJAyy' +
  'sd8XKNzmHqJ2fYhRjc5s7l5nIWTDyBXSdPKQ8cBnfFKoxaRhmMBjdEn9RB7r6A';

/**
 * `ExpiredToken`.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","exp":1205005587,"aud":"example_service"}`
 */
export const ENVOY_EXPIRED_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUu' +
  'Y29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImV4cCI6MTIwNTAwNTU4NywiY' +
  'XVkIjoiZXhhbXBsZV9zZXJ2aWNlIn0.izDa6aHNgbsbeRzucE0baXIP7SXOrgopYQ' +
  'ALLFAsKq_N0GvOyqpAZA9nwCAhqCkeKWcL-9gbQe3XJa0KN3FPa2NbW4ChenIjmf2' +
  'QYXOuOQaDu9QRTdHEY2Y4mRy6DiTZAsBHWGA71_cLX-rzTSO_8aC8eIqdHo898oJw' +
  '3E8ISKdryYjayb9X3wtF6KLgNomoD9_nqtOkliuLElD8grO0qHKI1xQurGZNaoeyi' +
  'V1AdwgX_5n3SmQTacVN0WcSgk6YJRZG6VE8PjxZP9bEameBmbSB0810giKRpdTU1-' +
  'RJtjq6aCSTD4CYXtW38T5uko4V-S4zifK3BXeituUTebkgoA';

/**
 * `NotYetValidToken`: `ExpiredToken`'s signature under another payload, whose base64url ends in
 * a newline after the JSON.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","aud":"example_service","nbf":9223372036854775807}\n`
 */
export const ENVOY_NOT_YET_VALID_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImF1' +
  'ZCI6ImV4YW1wbGVfc2VydmljZSIsIm5iZiI6OTIyMzM3MjAzNjg1NDc3NTgwN30K' +
  '.izDa6aHNgbsbeRzucE0baXIP7SXOrgopYQ' +
  'ALLFAsKq_N0GvOyqpAZA9nwCAhqCkeKWcL-9gbQe3XJa0KN3FPa2NbW4ChenIjmf2' +
  'QYXOuOQaDu9QRTdHEY2Y4mRy6DiTZAsBHWGA71_cLX-rzTSO_8aC8eIqdHo898oJw' +
  '3E8ISKdryYjayb9X3wtF6KLgNomoD9_nqtOkliuLElD8grO0qHKI1xQurGZNaoeyi' +
  'V1AdwgX_5n3SmQTacVN0WcSgk6YJRZG6VE8PjxZP9bEameBmbSB0810giKRpdTU1-' +
  'RJtjq6aCSTD4CYXtW38T5uko4V-S4zifK3BXeituUTebkgoA';

/**
 * `InvalidAudToken`.
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","exp":2001001001,"aud":"invalid_service"}`
 */
export const ENVOY_INVALID_AUD_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUu' +
  'Y29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIsImV4cCI6MjAwMTAwMTAwMSwiY' +
  'XVkIjoiaW52YWxpZF9zZXJ2aWNlIn0.B9HuVXpRDVYIvApfNQmE_l5fEMPEiPdi-s' +
  'dKbTione8I_UsnYHccKZVegaF6f2uyWhAvaTPgaMosyDlJD6skadEcmZD0V4TzsYK' +
  'v7eP5FQga26hZ1Kra7n9hAq4oFfH0J8aZLOvDV3tAgCNRXlh9h7QiBPeDNQlwztqE' +
  'csyp1lHI3jdUhsn3InIn-vathdx4PWQWLVb-74vwsP-END-MGlOfu_TY5OZUeY-GB' +
  'E4Wr06aOSU2XQjuNr6y2WJGMYFsKKWfF01kHSuyc9hjnq5UI19WrOM8s7LFP4w2iK' +
  'WFIPUGmPy3aM0TiF2oFOuuMxdPR3HNdSG7EWWRwoXv7n__jA';

/**
 * `NonExistKidToken`: signed by a key that is not in {@link ENVOY_PUBLIC_JWKS} (its header
 * names no `kid` either).
 * header  `{"alg":"RS256","typ":"JWT"}`
 * payload `{"iss":"https://example.com","sub":"test@example.com","aud":"example_service","exp":2001001001}`
 */
export const ENVOY_NON_EXIST_KID_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoidGVzdEBleGFtcGxlLmNvbSIs' +
  'ImF1ZCI6ImV4YW1wbGVfc2VydmljZSIsImV4cCI6MjAwMTAwMTAwMX0.' +
  'n45uWZfIBZwCIPiL0K8Ca3tmm-ZlsDrC79_' +
  'vXCspPwk5oxdSn983tuC9GfVWKXWUMHe11DsB02b19Ow-' +
  'fmoEzooTFn65Ml7G34nW07amyM6lETiMhNzyiunctplOr6xKKJHmzTUhfTirvDeG-q9n24-' +
  '8lH7GP8GgHvDlgSM9OY7TGp81bRcnZBmxim_UzHoYO3_' +
  'c8OP4ZX3xG5PfihVk5G0g6wcHrO70w0_64JgkKRCrLHMJSrhIgp9NHel_' +
  'CNOnL0AjQKe9IGblJrMuouqYYS0zEWwmOVUWUSxQkoLpldQUVefcfjQeGjz8IlvktRa77FYe' +
  'xfP590ACPyXrivtsxg';

/**
 * `OtherGoodToken`: valid for Envoy's `other_provider`, from another issuer.
 * header  `{"typ":"JWT","alg":"RS256"}`
 * payload `{"iss":"https://other.com","sub":"test@other.com","aud":"other_service","exp":2001001001}`
 */
export const ENVOY_OTHER_GOOD_TOKEN =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.' +
  'eyJpc3MiOiJodHRwczovL290aGVyLmNvbSIsInN1YiI6InRlc3RAb3RoZXIuY29tIiwiYXVkIjoib3RoZXJfc2VydmljZS' +
  'IsImV4cCI6MjAwMTAwMTAwMX0.R0GR2rnRTg_gWzDvuO-BXVMmw3-vyBspV_kUQ4zvIdO-_' +
  '1icaWzbioPTPEyoViWuErNYxaZ5YFBoD6Zk_hIe1YWoSJr9QRwxWA4CWcasJdBXPq2mMETt8VjAiXE_' +
  'aIrJOLIlP786GLjVgTsnvhaDUJyU7xUdoi9HRjEBYcdjNPvxJutoby8MypAkwdGxjl4H4Z01gomgWyUDRRy47OKI_' +
  'buwXk5M6d-' +
  'drRvLcvlT5gB4adOIOlmhm8xtXgYpvqrXfmMJCHbP9no7JATFaTEAkmA3OOxDsaOju4BFgMtRZtDM8p12QQG0rFl_FE-' +
  '2FqYX9qA4q41HJ4vxTSxgObeLGA';

/**
 * `ES256WithoutIssToken` (Envoy took it from google/jwt_verify_lib and renamed `iss` to `iss11`).
 * header  `{"alg":"ES256","typ":"JWT","kid":"abc"}`
 * payload `{"iss11":"628645741881-noabiu23f5a8m8ovd8ucv698lj78vv0l@developer.gserviceaccount.com",
 *          "sub":"628645741881-noabiu23f5a8m8ovd8ucv698lj78vv0l@developer.gserviceaccount.com","aud":"example_service"}`
 */
export const ENVOY_ES256_WITHOUT_ISS_TOKEN =
  'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImFiYyJ9.' +
  'eyJpc3MxMSI6IjYyODY0NTc0MTg4MS1ub2FiaXUyM2Y1YThtOG92ZDh1Y3Y2OThsajc4dnYwbEBkZXZlbG9wZXIuZ3Nlcn' +
  'ZpY2VhY2NvdW50LmNvbSIsInN1YiI6IjYyODY0NTc0MTg4MS1ub2FiaXUyM2Y1YThtOG92ZDh1Y3Y2OThsajc4dnYwbEBk' +
  'ZXZlbG9wZXIuZ3NlcnZpY2VhY2NvdW50LmNvbSIsImF1ZCI6ImV4YW1wbGVfc2VydmljZSJ9.f-_' +
  'NAdznQK9o93AZTqNawu1yal1igNLgYvuj0JzW9SVmJJQuBT_12wJi9XQzZLFwSFn6D3f7bPWSZQlScTFSMg';
