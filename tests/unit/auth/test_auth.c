/* Unit tests of auth/: JWT sign/verify and every rejection, TOTP (RFC 6238 vectors, window,
 * replay), HMAC-SHA-1 (RFC 2202), e-mail normalisation, display names, roles. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "auth/accounts.h"
#include "auth/caller.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/totp.h"
#include "core/err.h"

/* ---- JWT helpers ---- */

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NOW 1700000000LL

static void test_key(uint8_t key[JWT_KEY_LEN], uint8_t fill)
{
    for (int i = 0; i < JWT_KEY_LEN; i++)
        key[i] = (uint8_t)(fill + i);
}

static struct jwt_claims sample_claims(void)
{
    struct jwt_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    snprintf(c.org, sizeof c.org, "%s", "default");
    snprintf(c.role, sizeof c.role, "%s", "member");
    snprintf(c.sid, sizeof c.sid, "%s", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c");
    c.iat = c.nbf = NOW;
    c.exp = NOW + 900;
    return c;
}

static char *b64url_enc(const void *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, B64URL);
    char *s = malloc(cap);
    CHECK(s != NULL);
    sodium_bin2base64(s, cap, p, n, B64URL);
    return s;
}

/* A token from raw header and payload JSON, signed with key (HS256) — or with the signature
 * segment `sig` verbatim when sig is not NULL. Caller frees. */
static char *craft(const uint8_t key[JWT_KEY_LEN], const char *header, const char *payload, const char *sig)
{
    char *h = b64url_enc(header, strlen(header)), *p = b64url_enc(payload, strlen(payload));
    size_t cap = strlen(h) + strlen(p) + 128;
    char *t = malloc(cap);
    CHECK(t != NULL);
    int n = snprintf(t, cap, "%s.%s", h, p);
    if (sig) {
        snprintf(t + n, cap - (size_t)n, ".%s", sig);
    } else {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256(mac, (const uint8_t *)t, (size_t)n, key);
        char *s = b64url_enc(mac, sizeof mac);
        snprintf(t + n, cap - (size_t)n, ".%s", s);
        free(s);
    }
    free(h);
    free(p);
    return t;
}

/* The payload JSON of sample_claims with optional overrides (printf-built). */
static char *payload_json(const char *sub, const char *role, const char *use, long long iat, long long nbf,
                          long long exp)
{
    char *s = malloc(512);
    CHECK(s != NULL);
    snprintf(s, 512,
             "{\"sub\":\"%s\",\"org\":\"default\",\"role\":\"%s\",\"sid\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"token_use\":\"%s\"}",
             sub, role, iat, nbf, exp, use);
    return s;
}

static const char HS256_HDR[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static int verify(const uint8_t key[JWT_KEY_LEN], const char *tok, int64_t now, const char **why)
{
    struct jwt_claims out;
    *why = NULL;
    return jwt_verify(key, tok, strlen(tok), now, &out, why);
}

/* ---- JWT ---- */

TEST(auth_jwt_sign_verify_round_trip)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    struct jwt_claims c = sample_claims(), out;
    char *tok = NULL;
    CHECK_EQ_INT(jwt_sign(key, &c, &tok), DP_OK);
    CHECK(tok != NULL);
    /* Three base64url segments. */
    int dots = 0;
    for (const char *p = tok; *p; p++) {
        dots += *p == '.';
        CHECK(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z'));
    }
    CHECK_EQ_INT(dots, 2);
    memset(&out, 0, sizeof out);
    const char *why = "unset";
    CHECK_EQ_INT(jwt_verify(key, tok, strlen(tok), NOW + 1, &out, &why), DP_OK);
    CHECK_EQ_STR(out.sub, c.sub);
    CHECK_EQ_STR(out.org, c.org);
    CHECK_EQ_STR(out.role, c.role);
    CHECK_EQ_STR(out.sid, c.sid);
    CHECK_EQ_INT(out.iat, c.iat);
    CHECK_EQ_INT(out.nbf, c.nbf);
    CHECK_EQ_INT(out.exp, c.exp);
    /* reason may be NULL. */
    CHECK_EQ_INT(jwt_verify(key, tok, strlen(tok), NOW, &out, NULL), DP_OK);

    /* The header is exactly {"alg":"HS256","typ":"JWT"}. */
    const char *dot = strchr(tok, '.');
    uint8_t raw[256];
    size_t rawlen;
    CHECK_EQ_INT(sodium_base642bin(raw, sizeof raw, tok, (size_t)(dot - tok), NULL, &rawlen, NULL, B64URL), 0);
    json_t *h = json_loadb((const char *)raw, rawlen, 0, NULL);
    CHECK(h != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(h, "alg")), "HS256");
    CHECK_EQ_STR(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);

    /* A token built independently (craft) with the same claims verifies too. */
    char *pj = payload_json(c.sub, "member", "access", NOW, NOW, NOW + 900);
    char *t2 = craft(key, HS256_HDR, pj, NULL);
    CHECK_EQ_INT(verify(key, t2, NOW, &why), DP_OK);
    free(pj);
    free(t2);
    free(tok);
}

TEST(auth_jwt_rejects_alg_none)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    char *pj = payload_json("u", "admin", "access", NOW, NOW, NOW + 900);
    const char *why;
    /* alg none with an empty signature, and with a (valid-looking) HMAC kept. */
    char *t1 = craft(key, "{\"alg\":\"none\",\"typ\":\"JWT\"}", pj, "");
    CHECK_EQ_INT(verify(key, t1, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK(why != NULL);
    char *t2 = craft(key, "{\"alg\":\"none\",\"typ\":\"JWT\"}", pj, NULL);
    CHECK_EQ_INT(verify(key, t2, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "unsupported alg");
    /* Case variants. */
    char *t3 = craft(key, "{\"alg\":\"None\",\"typ\":\"JWT\"}", pj, NULL);
    CHECK_EQ_INT(verify(key, t3, NOW, &why), DP_ERR_UNAUTHORIZED);
    char *t4 = craft(key, "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", pj, NULL);
    CHECK_EQ_INT(verify(key, t4, NOW, &why), DP_ERR_UNAUTHORIZED);
    /* No alg at all, alg not a string. */
    char *t5 = craft(key, "{\"typ\":\"JWT\"}", pj, NULL);
    CHECK_EQ_INT(verify(key, t5, NOW, &why), DP_ERR_UNAUTHORIZED);
    char *t6 = craft(key, "{\"alg\":256,\"typ\":\"JWT\"}", pj, NULL);
    CHECK_EQ_INT(verify(key, t6, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(t1), free(t2), free(t3), free(t4), free(t5), free(t6), free(pj);
}

TEST(auth_jwt_rejects_rs256_and_other_algs)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    char *pj = payload_json("u", "member", "access", NOW, NOW, NOW + 900);
    const char *algs[] = {"RS256", "ES256", "HS384", "HS512", "PS256", "EdDSA"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char hdr[64];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[i]);
        /* Even with a correct HMAC-SHA-256 over the bytes (key confusion). */
        char *t = craft(key, hdr, pj, NULL);
        const char *why;
        CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
        CHECK_EQ_STR(why, "unsupported alg");
        free(t);
    }
    free(pj);
}

TEST(auth_jwt_rejects_wrong_typ_and_extra_header_fields)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    char *pj = payload_json("u", "member", "access", NOW, NOW, NOW + 900);
    const char *hdrs[] = {
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"jku\":\"http://evil/\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"alg\":\"none\"}", /* duplicate key */
        "[\"HS256\"]",
        "not json",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        char *t = craft(key, hdrs[i], pj, NULL);
        const char *why;
        CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
        CHECK(why != NULL);
        free(t);
    }
    free(pj);
}

TEST(auth_jwt_rejects_wrong_key)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN], other[JWT_KEY_LEN];
    test_key(key, 1);
    test_key(other, 2);
    struct jwt_claims c = sample_claims();
    char *tok;
    CHECK_EQ_INT(jwt_sign(other, &c, &tok), DP_OK);
    const char *why;
    CHECK_EQ_INT(verify(key, tok, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "bad signature");
    CHECK_EQ_INT(verify(other, tok, NOW, &why), DP_OK);
    free(tok);
}

TEST(auth_jwt_rejects_tampering)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    struct jwt_claims c = sample_claims();
    char *tok;
    CHECK_EQ_INT(jwt_sign(key, &c, &tok), DP_OK);
    const char *why;
    char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');

    /* The payload swapped for one with role admin, the signature kept. */
    char *pj = payload_json(c.sub, "admin", "access", NOW, NOW, NOW + 900);
    char *forged = craft(key, HS256_HDR, pj, dot2 + 1);
    CHECK_EQ_INT(verify(key, forged, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "bad signature");

    /* One character flipped in each segment. */
    size_t len = strlen(tok);
    size_t spots[] = {2, (size_t)(dot1 - tok) + 3, (size_t)(dot2 - tok) + 3, len - 2};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        char *t = strdup(tok);
        t[spots[i]] = t[spots[i]] == 'A' ? 'B' : 'A';
        CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
        free(t);
    }
    /* Signature truncated, emptied, extended. */
    char *t = strdup(tok);
    t[len - 1] = 0;
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    t[(size_t)(dot2 - tok) + 1] = 0;
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(t);
    char *longer = malloc(len + 3);
    snprintf(longer, len + 3, "%sAA", tok);
    CHECK_EQ_INT(verify(key, longer, NOW, &why), DP_ERR_UNAUTHORIZED);
    /* Base64 with padding or standard alphabet is not base64url. */
    snprintf(longer, len + 3, "%s=", tok);
    CHECK_EQ_INT(verify(key, longer, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(longer);
    free(forged);
    free(pj);
    free(tok);
}

TEST(auth_jwt_rejects_expired_and_not_yet_valid)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    struct jwt_claims c = sample_claims();
    char *tok;
    CHECK_EQ_INT(jwt_sign(key, &c, &tok), DP_OK);
    const char *why;
    CHECK_EQ_INT(verify(key, tok, c.exp - 1, &why), DP_OK);
    CHECK_EQ_INT(verify(key, tok, c.exp, &why), DP_ERR_UNAUTHORIZED); /* exp > now, strictly */
    CHECK_EQ_STR(why, "token expired");
    CHECK_EQ_INT(verify(key, tok, c.exp + 3600, &why), DP_ERR_UNAUTHORIZED);
    free(tok);

    /* nbf in the future: 30 s of skew allowed, not more. */
    char *pj = payload_json("u", "member", "access", NOW, NOW + 31, NOW + 900);
    char *t = craft(key, HS256_HDR, pj, NULL);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "token not yet valid");
    CHECK_EQ_INT(verify(key, t, NOW + 1, &why), DP_OK);
    free(t), free(pj);
    pj = payload_json("u", "member", "access", NOW, NOW + 30, NOW + 900);
    t = craft(key, HS256_HDR, pj, NULL);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_OK);
    free(t), free(pj);
    pj = payload_json("u", "member", "access", NOW, NOW + 3600, NOW + 7200);
    t = craft(key, HS256_HDR, pj, NULL);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(t), free(pj);
    /* iat in the future likewise. */
    pj = payload_json("u", "member", "access", NOW + 600, NOW, NOW + 900);
    t = craft(key, HS256_HDR, pj, NULL);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(t), free(pj);
}

TEST(auth_jwt_rejects_missing_or_mistyped_claims)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    const char *payloads[] = {
        /* each misses or mistypes one claim */
        "{\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":\"1700000900\",\"token_use\":\"access\"}",
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900.5,\"token_use\":\"access\"}",
        "{\"sub\":7,\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        "{\"sub\":\"\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        /* wrong token_use */
        "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"refresh\"}",
        /* over-long sub (≥ ID_LEN) */
        "{\"sub\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-and-more\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
        /* not an object */
        "[1,2,3]",
        "\"sub\"",
        /* duplicate claim */
        "{\"sub\":\"u\",\"sub\":\"v\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}",
    };
    /* Sanity: the complete payload passes. */
    const char *full = "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,"
                       "\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\"}";
    const char *why;
    char *t = craft(key, HS256_HDR, full, NULL);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_OK);
    free(t);
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        t = craft(key, HS256_HDR, payloads[i], NULL);
        int rc = verify(key, t, NOW, &why);
        if (rc != DP_ERR_UNAUTHORIZED)
            fprintf(stderr, "    payload %zu accepted: %s\n", i, payloads[i]);
        CHECK_EQ_INT(rc, DP_ERR_UNAUTHORIZED);
        CHECK(why != NULL);
        free(t);
    }
}

TEST(auth_jwt_rejects_malformed_and_overlong)
{
    CHECK(sodium_init() >= 0);
    uint8_t key[JWT_KEY_LEN];
    test_key(key, 1);
    struct jwt_claims c = sample_claims();
    char *tok;
    CHECK_EQ_INT(jwt_sign(key, &c, &tok), DP_OK);
    const char *why;
    size_t len = strlen(tok);

    /* Three or more dots. */
    char *t = malloc(len + 8);
    snprintf(t, len + 8, "%s.", tok);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "malformed token");
    snprintf(t, len + 8, "%s.abc", tok);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    snprintf(t, len + 8, "a.%s", tok);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    free(t);
    /* One dot, none, empty segments, empty string. */
    const char *bad[] = {"", ".", "..", "...", "abc", "abc.def", "a..b", ".a.b", "a.b.", "eyJ.eyJ.sig"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(verify(key, bad[i], NOW, &why), DP_ERR_UNAUTHORIZED);
    }
    /* Only the first len bytes count: a length one short of the token does not verify. */
    CHECK_EQ_INT(jwt_verify(key, tok, len - 1, NOW, &(struct jwt_claims){0}, &why), DP_ERR_UNAUTHORIZED);

    /* Over-long (> JWT_MAX_LEN): refused before parsing, even with a valid signature. */
    char *pad = malloc(JWT_MAX_LEN + 64);
    memset(pad, 'x', JWT_MAX_LEN);
    pad[JWT_MAX_LEN] = 0;
    char *pj = malloc(JWT_MAX_LEN + 512);
    snprintf(pj, JWT_MAX_LEN + 512,
             "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,"
             "\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\",\"pad\":\"%s\"}",
             pad);
    t = craft(key, HS256_HDR, pj, NULL);
    CHECK(strlen(t) > JWT_MAX_LEN);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(why, "malformed token");
    free(t);
    /* Just under the cap with extra claims: still fine (unknown claims are ignored). */
    snprintf(pj, JWT_MAX_LEN + 512,
             "{\"sub\":\"u\",\"org\":\"default\",\"role\":\"member\",\"sid\":\"s\",\"iat\":1700000000,"
             "\"nbf\":1700000000,\"exp\":1700000900,\"token_use\":\"access\",\"pad\":\"%.1000s\"}",
             pad);
    t = craft(key, HS256_HDR, pj, NULL);
    CHECK(strlen(t) <= JWT_MAX_LEN);
    CHECK_EQ_INT(verify(key, t, NOW, &why), DP_OK);
    free(t);
    free(pj);
    free(pad);
    free(tok);
}

/* ---- HMAC-SHA-1 (RFC 2202) ---- */

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

TEST(auth_hmac_sha1_rfc2202_vectors)
{
    uint8_t out[20], key[80];
    char h[41];
    /* Test case 1 */
    memset(key, 0x0b, 20);
    hmac_sha1(key, 20, (const uint8_t *)"Hi There", 8, out);
    hex(out, 20, h);
    CHECK_EQ_STR(h, "b617318655057264e28bc0b6fb378c8ef146be00");
    /* Test case 2 */
    const char *m2 = "what do ya want for nothing?";
    hmac_sha1((const uint8_t *)"Jefe", 4, (const uint8_t *)m2, strlen(m2), out);
    hex(out, 20, h);
    CHECK_EQ_STR(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    /* Test case 3: key 0xaa x 20, data 0xdd x 50 */
    uint8_t d[50];
    memset(key, 0xaa, 20);
    memset(d, 0xdd, sizeof d);
    hmac_sha1(key, 20, d, sizeof d, out);
    hex(out, 20, h);
    CHECK_EQ_STR(h, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    /* Test case 6: an 80-byte key (longer than a block: hashed first) */
    memset(key, 0xaa, 80);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_sha1(key, 80, (const uint8_t *)m6, strlen(m6), out);
    hex(out, 20, h);
    CHECK_EQ_STR(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* ---- TOTP (RFC 6238 appendix B, SHA-1) ---- */

#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" /* "12345678901234567890" */

TEST(auth_totp_rfc6238_vectors)
{
    CHECK_EQ_INT(totp_code(RFC_SECRET, 59 / 30), 287082);
    CHECK_EQ_INT(totp_code(RFC_SECRET, 1111111109 / 30), 81804);
    CHECK_EQ_INT(totp_code(RFC_SECRET, 1111111111 / 30), 50471);
    CHECK_EQ_INT(totp_code(RFC_SECRET, 1234567890 / 30), 5924);
    CHECK_EQ_INT(totp_code(RFC_SECRET, 2000000000 / 30), 279037);
    CHECK_EQ_INT(totp_code(RFC_SECRET, 20000000000LL / 30), 353130);
    /* Lower-case base32 decodes the same. */
    CHECK_EQ_INT(totp_code("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 59 / 30), 287082);
    /* Bad secrets. */
    CHECK_EQ_INT(totp_code("", 1), -1);
    CHECK_EQ_INT(totp_code("GEZDGNBV!Y3TQOJQ", 1), -1);
    CHECK_EQ_INT(totp_code("GEZDGNBVGY3TQOJ1", 1), -1); /* '1' is not base32 */
}

TEST(auth_totp_verify_formats_zero_padding)
{
    /* T=1111111109 → 081804 (leading zero kept); T=1234567890 → 005924. */
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "081804", 1111111109, 0), 1111111109 / 30);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "005924", 1234567890, 0), 1234567890 / 30);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "287082", 59, 0), 1);
    /* Without the zeros it is not 6 digits. */
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "81804", 1111111109, 0), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "5924", 1234567890, 0), -1);
    /* Not digits, wrong length, NULL. */
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "28708a", 59, 0), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "2870820", 59, 0), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, " 87082", 59, 0), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "", 59, 0), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, NULL, 59, 0), -1);
    /* A wrong code. */
    CHECK_EQ_INT(totp_verify(RFC_SECRET, "287083", 59, 0), -1);
}

TEST(auth_totp_verify_window_is_plus_minus_one_step)
{
    int64_t t = 1234567890, step = t / 30;
    char code[8];
    /* Codes of steps step-1, step, step+1 pass at time t; step±2 do not. */
    for (int64_t d = -2; d <= 2; d++) {
        snprintf(code, sizeof code, "%06d", totp_code(RFC_SECRET, step + d));
        int64_t got = totp_verify(RFC_SECRET, code, t, 0);
        if (d >= -1 && d <= 1)
            CHECK_EQ_INT(got, step + d);
        else
            CHECK_EQ_INT(got, -1);
    }
}

TEST(auth_totp_verify_refuses_replay_via_last_step)
{
    int64_t t = 1234567890, step = t / 30;
    char code[8];
    snprintf(code, sizeof code, "%06d", totp_code(RFC_SECRET, step));
    int64_t used = totp_verify(RFC_SECRET, code, t, 0);
    CHECK_EQ_INT(used, step);
    /* The same code again, with last_step recording its use: refused. */
    CHECK_EQ_INT(totp_verify(RFC_SECRET, code, t, used), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, code, t + 29 - t % 30, used), -1);
    /* An older step's code is refused once a newer step was used. */
    char prev[8];
    snprintf(prev, sizeof prev, "%06d", totp_code(RFC_SECRET, step - 1));
    CHECK_EQ_INT(totp_verify(RFC_SECRET, prev, t, 0), step - 1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, prev, t, step), -1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, prev, t, step - 1), -1);
    /* The next step's code still passes after step was used. */
    char next[8];
    snprintf(next, sizeof next, "%06d", totp_code(RFC_SECRET, step + 1));
    CHECK_EQ_INT(totp_verify(RFC_SECRET, next, t, used), step + 1);
    CHECK_EQ_INT(totp_verify(RFC_SECRET, next, t, step + 1), -1);
}

TEST(auth_totp_new_secret_is_base32_and_random)
{
    CHECK(sodium_init() >= 0);
    char a[TOTP_SECRET_B32_LEN], b[TOTP_SECRET_B32_LEN];
    totp_new_secret(a);
    totp_new_secret(b);
    CHECK_EQ_INT(strlen(a), 32);
    CHECK(strcmp(a, b) != 0);
    for (int i = 0; i < 32; i++)
        CHECK((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '2' && a[i] <= '7'));
    int c = totp_code(a, 12345);
    CHECK(c >= 0 && c < 1000000);
}

/* ---- e-mail and display names ---- */

static int norm(const char *in, char *out)
{
    return email_normalize(in, out, EMAIL_MAX + 1);
}

TEST(auth_email_normalize_cases)
{
    char out[EMAIL_MAX + 1];
    CHECK_EQ_INT(norm("alice@example.com", out), DP_OK);
    CHECK_EQ_STR(out, "alice@example.com");
    /* Trimmed and lower-cased (ASCII): one account per address, whatever its spelling. */
    CHECK_EQ_INT(norm("  Alice.Smith@Example.COM \t\n", out), DP_OK);
    CHECK_EQ_STR(out, "alice.smith@example.com");
    CHECK_EQ_INT(norm("a+tag@EXAMPLE.org", out), DP_OK);
    CHECK_EQ_STR(out, "a+tag@example.org");
    CHECK_EQ_INT(norm("a@b", out), DP_OK);
    CHECK_EQ_STR(out, "a@b");
    /* UTF-8 is allowed. */
    CHECK_EQ_INT(norm("j\xc3\xb6rg@example.de", out), DP_OK);
    CHECK_EQ_STR(out, "j\xc3\xb6rg@example.de");
    CHECK_EQ_INT(norm("J\xc3\x96RG@example.de", out), DP_OK); /* non-ASCII letters keep their case */
    CHECK_EQ_STR(out, "j\xc3\x96rg@example.de");

    const char *bad[] = {
        "",
        "   ",
        "a",
        "ab",
        "@",
        "a@",
        "@b.com",
        "nobody",
        "a@@b.com",
        "a@b@c.com",
        "a b@c.com",
        "a@b .com",
        "\"a\"@b.com",
        "a<b@c.com",
        "a>b@c.com",
        "a\\b@c.com",
        "a,b@c.com",
        "a@b..com",
        "a\x7f@b.com",
        "a\x01@b.com",
        "a@b\tc.com",
        "\xff\xfe@b.com",
        "a@\xc3(.com",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = norm(bad[i], out);
        if (rc != DP_ERR_INVALID)
            fprintf(stderr, "    accepted bad e-mail #%zu \"%s\"\n", i, bad[i]);
        CHECK_EQ_INT(rc, DP_ERR_INVALID);
    }
    /* Length: EMAIL_MAX passes, one more does not. */
    char longest[EMAIL_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + EMAIL_MAX - 6, "@b.com", 6);
    longest[EMAIL_MAX] = 0;
    CHECK_EQ_INT(norm(longest, out), DP_OK);
    CHECK_EQ_INT(strlen(out), EMAIL_MAX);
    memset(longest, 'a', sizeof longest);
    memcpy(longest + EMAIL_MAX + 1 - 6, "@b.com", 6);
    longest[EMAIL_MAX + 1] = 0;
    CHECK_EQ_INT(norm(longest, out), DP_ERR_INVALID);
    /* A too-small output buffer is refused, not overrun. */
    char small[8];
    memset(small, 'Z', sizeof small);
    CHECK_EQ_INT(email_normalize("alice@example.com", small, sizeof small), DP_ERR_INVALID);
    CHECK_EQ_INT(email_normalize("a@b.cd", small, sizeof small), DP_OK);
    CHECK_EQ_STR(small, "a@b.cd");
}

TEST(auth_default_display_name_is_the_local_part)
{
    char out[DISPLAY_NAME_MAX + 1];
    accounts_default_display_name("alice.smith@example.com", out);
    CHECK_EQ_STR(out, "alice.smith");
    accounts_default_display_name("j\xc3\xb6rg@example.de", out);
    CHECK_EQ_STR(out, "j\xc3\xb6rg");
    CHECK(display_name_valid(out));
    /* A local part longer than a display name is cut at a whole character. */
    char email[EMAIL_MAX + 1];
    size_t at = 0;
    for (int i = 0; i < 60; i++) { /* 120 bytes of "ö" */
        email[at++] = (char)0xc3;
        email[at++] = (char)0xb6;
    }
    memcpy(email + at, "@b.cd", 6);
    accounts_default_display_name(email, out);
    CHECK_EQ_INT(strlen(out), DISPLAY_NAME_MAX);
    CHECK(display_name_valid(out));
    memmove(email + 1, email, strlen(email) + 1);
    email[0] = 'x'; /* now the cut falls in the middle of a character */
    accounts_default_display_name(email, out);
    CHECK_EQ_INT(strlen(out), DISPLAY_NAME_MAX - 1);
    CHECK(display_name_valid(out));
    accounts_default_display_name("@b.cd", out);
    CHECK_EQ_STR(out, "user");
}

TEST(auth_display_name_valid_cases)
{
    CHECK(display_name_valid("Alice"));
    CHECK(display_name_valid("A"));
    CHECK(display_name_valid("Zoë Ångström — 日本"));
    CHECK(display_name_valid("with spaces and 'quotes' \"too\""));
    CHECK(!display_name_valid(""));
    CHECK(!display_name_valid(NULL));
    CHECK(!display_name_valid("tab\there"));
    CHECK(!display_name_valid("new\nline"));
    CHECK(!display_name_valid("del\x7f"));
    CHECK(!display_name_valid("esc\x1b[31m"));
    CHECK(!display_name_valid("bad \xff utf8"));
    CHECK(!display_name_valid("overlong \xc0\xaf"));
    char name[DISPLAY_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[DISPLAY_NAME_MAX] = 0;
    CHECK(display_name_valid(name));
    name[DISPLAY_NAME_MAX] = 'n';
    name[DISPLAY_NAME_MAX + 1] = 0;
    CHECK(!display_name_valid(name));
}

/* ---- roles and the management rule ---- */

TEST(auth_roles_parse_and_manage_rule)
{
    CHECK_EQ_INT(role_parse("admin"), ROLE_ADMIN);
    CHECK_EQ_INT(role_parse("manager"), ROLE_MANAGER);
    CHECK_EQ_INT(role_parse("member"), ROLE_MEMBER);
    CHECK_EQ_INT(role_parse("Admin"), -1);
    CHECK_EQ_INT(role_parse(""), -1);
    CHECK_EQ_INT(role_parse(NULL), -1);
    CHECK_EQ_STR(role_name(ROLE_ADMIN), "admin");
    CHECK_EQ_STR(role_name(ROLE_MANAGER), "manager");
    CHECK_EQ_STR(role_name(ROLE_MEMBER), "member");

    struct caller admin = {.role = ROLE_ADMIN}, mgr = {.role = ROLE_MANAGER}, mem = {.role = ROLE_MEMBER};
    snprintf(admin.org_id, sizeof admin.org_id, "default");
    snprintf(mgr.org_id, sizeof mgr.org_id, "org-a");
    snprintf(mem.org_id, sizeof mem.org_id, "org-a");
    CHECK(caller_can_manage(&admin, "org-b", ROLE_ADMIN));
    CHECK(caller_can_manage(&admin, "org-b", ROLE_MEMBER));
    CHECK(caller_can_manage(&mgr, "org-a", ROLE_MEMBER));
    CHECK(caller_can_manage(&mgr, "org-a", ROLE_MANAGER));
    CHECK(!caller_can_manage(&mgr, "org-a", ROLE_ADMIN));
    CHECK(!caller_can_manage(&mgr, "org-b", ROLE_MEMBER));
    CHECK(!caller_can_manage(&mem, "org-a", ROLE_MEMBER));
}

/* ---- passwords ---- */

TEST(auth_password_policy_and_hash)
{
    CHECK(sodium_init() >= 0);
    CHECK_EQ_INT(password_setup(1, 8192), DP_OK);
    CHECK_EQ_INT(password_check_policy("123456789"), DP_ERR_INVALID);
    CHECK_EQ_INT(password_check_policy("1234567890"), DP_OK);
    CHECK_EQ_INT(password_check_policy(NULL), DP_ERR_INVALID);
    char *big = malloc(PASSWORD_MAX + 2);
    memset(big, 'p', PASSWORD_MAX + 1);
    big[PASSWORD_MAX] = 0;
    CHECK_EQ_INT(password_check_policy(big), DP_OK);
    big[PASSWORD_MAX] = 'p';
    big[PASSWORD_MAX + 1] = 0;
    CHECK_EQ_INT(password_check_policy(big), DP_ERR_INVALID);
    free(big);
    char h[PASSWORD_HASH_LEN];
    CHECK_EQ_INT(password_hash("correct horse battery", h), DP_OK);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(strstr(h, "correct") == NULL);
    CHECK_EQ_INT(password_verify(h, "correct horse battery"), 1);
    CHECK_EQ_INT(password_verify(h, "correct horse batterY"), 0);
    CHECK_EQ_INT(password_verify(NULL, "doppel-dummy-password"), 0); /* the dummy never matches */
    /* Below libsodium's minimum cost is refused. */
    CHECK_EQ_INT(password_setup(0, 8192), DP_ERR_INVALID);
}
