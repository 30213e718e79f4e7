/* HS256 JWTs on libsodium's HMAC-SHA-256; no other algorithm is ever accepted. */
#include "auth/jwt.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING

static char *b64url(const void *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, B64URL);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, p, n, B64URL);
    return s;
}

int jwt_sign(const uint8_t key[JWT_KEY_LEN], const struct jwt_claims *c, char **out)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    json_t *payload = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "sub", c->sub, "org", c->org, "role", c->role,
                                "sid", c->sid, "iat", (json_int_t)c->iat, "nbf", (json_int_t)c->nbf, "exp",
                                (json_int_t)c->exp, "token_use", "access");
    if (!payload)
        return DP_ERR_NOMEM;
    char *pj = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    char *h64 = b64url(header, sizeof header - 1), *p64 = pj ? b64url(pj, strlen(pj)) : NULL;
    free(pj);
    int err = DP_ERR_NOMEM;
    if (!h64 || !p64)
        goto out;
    size_t hl = strlen(h64), pl = strlen(p64);
    size_t siglen = sodium_base64_encoded_len(crypto_auth_hmacsha256_BYTES, B64URL);
    char *tok = malloc(hl + 1 + pl + 1 + siglen);
    if (!tok)
        goto out;
    memcpy(tok, h64, hl);
    tok[hl] = '.';
    memcpy(tok + hl + 1, p64, pl);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const uint8_t *)tok, hl + 1 + pl, key);
    tok[hl + 1 + pl] = '.';
    sodium_bin2base64(tok + hl + 1 + pl + 1, siglen, mac, sizeof mac, B64URL);
    *out = tok;
    err = DP_OK;
out:
    free(h64);
    free(p64);
    return err;
}

/* Decodes a base64url segment into a JSON object; NULL when anything is off. */
static json_t *decode_segment(const char *p, size_t n)
{
    uint8_t raw[JWT_MAX_LEN];
    size_t rawlen;
    if (n == 0 || sodium_base642bin(raw, sizeof raw, p, n, NULL, &rawlen, NULL, B64URL))
        return NULL;
    json_t *v = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int copy_str(json_t *obj, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_int(json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

#define FAIL(why)                                                                                                      \
    do {                                                                                                               \
        if (reason)                                                                                                    \
            *reason = why;                                                                                             \
        goto out;                                                                                                      \
    } while (0)

int jwt_verify(const uint8_t key[JWT_KEY_LEN], const char *token, size_t len, int64_t now, struct jwt_claims *out,
               const char **reason)
{
    json_t *header = NULL, *payload = NULL;
    int err = DP_ERR_UNAUTHORIZED;
    if (len == 0 || len > JWT_MAX_LEN)
        FAIL("malformed token");
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        FAIL("malformed token");
    header = decode_segment(token, (size_t)(dot1 - token));
    if (!header)
        FAIL("malformed header");
    /* Only HS256 with typ JWT: refuses "none", RS256/ES256 key confusion and anything new. */
    json_t *alg = json_object_get(header, "alg"), *typ = json_object_get(header, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256"))
        FAIL("unsupported alg");
    if (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT"))
        FAIL("unsupported typ");
    if (json_object_size(header) != 2)
        FAIL("unexpected header fields");

    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    size_t maclen;
    const char *sig = dot2 + 1;
    if (sodium_base642bin(mac, sizeof mac, sig, len - (size_t)(sig - token), NULL, &maclen, NULL, B64URL) ||
        maclen != sizeof mac)
        FAIL("bad signature");
    if (crypto_auth_hmacsha256_verify(mac, (const uint8_t *)token, (size_t)(dot2 - token), key))
        FAIL("bad signature");

    payload = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload)
        FAIL("malformed payload");
    char use[16];
    if (copy_str(payload, "sub", out->sub, sizeof out->sub) || copy_str(payload, "org", out->org, sizeof out->org) ||
        copy_str(payload, "role", out->role, sizeof out->role) || copy_str(payload, "sid", out->sid, sizeof out->sid) ||
        copy_str(payload, "token_use", use, sizeof use) || get_int(payload, "iat", &out->iat) ||
        get_int(payload, "nbf", &out->nbf) || get_int(payload, "exp", &out->exp))
        FAIL("missing claims");
    if (strcmp(use, "access"))
        FAIL("not an access token");
    if (out->exp <= now)
        FAIL("token expired");
    if (out->nbf > now + 30 || out->iat > now + 30)
        FAIL("token not yet valid");
    err = DP_OK;
out:
    json_decref(header);
    json_decref(payload);
    return err;
}
