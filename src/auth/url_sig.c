/* Signed URLs (see url_sig.h). */
#include "auth/url_sig.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/settings.h"
#include "core/err.h"

void url_sig_make(const char *scope, const char *id, int64_t exp, char out[URL_SIG_LEN])
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "url\n%s\n%s\n%lld", scope, id, (long long)exp);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, auth_cfg.jwt_key, sizeof auth_cfg.jwt_key);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, URL_SIG_LEN, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int64_t url_sig_expiry(int64_t now_s)
{
    return (now_s / 3600 + 2) * 3600;
}

int url_sig_check(const char *scope, const char *id, const char *exp, const char *sig, int64_t now_s)
{
    if (!exp || !sig || strlen(sig) != URL_SIG_LEN - 1 || strlen(exp) > 12 || !*exp)
        return DP_ERR_NOT_FOUND;
    char *end;
    long long e = strtoll(exp, &end, 10);
    if (*end || e <= now_s || e > now_s + 3 * 3600)
        return DP_ERR_NOT_FOUND;
    char want[URL_SIG_LEN];
    url_sig_make(scope, id, e, want);
    return sodium_memcmp(want, sig, URL_SIG_LEN - 1) ? DP_ERR_NOT_FOUND : DP_OK;
}
