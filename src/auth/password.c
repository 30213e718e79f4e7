/* argon2id password hashes with configurable cost and an equal-time path for unknown accounts. */
#include "auth/password.h"

#include <string.h>

#include "core/err.h"

static unsigned long long pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
static char dummy_hash[PASSWORD_HASH_LEN];

int password_setup(unsigned long long ops, size_t mem_kib)
{
    if (ops < crypto_pwhash_OPSLIMIT_MIN || mem_kib * 1024 < crypto_pwhash_MEMLIMIT_MIN)
        return DP_ERR_INVALID;
    pw_ops = ops;
    pw_mem = mem_kib * 1024;
    return password_hash("doppel-dummy-password", dummy_hash);
}

int password_check_policy(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    return n >= PASSWORD_MIN && n <= PASSWORD_MAX ? DP_OK : DP_ERR_INVALID;
}

int password_hash(const char *pw, char out[PASSWORD_HASH_LEN])
{
    if (crypto_pwhash_str_alg(out, pw, strlen(pw), pw_ops, pw_mem, crypto_pwhash_ALG_ARGON2ID13))
        return DP_ERR_NOMEM;
    return DP_OK;
}

int password_verify(const char *hash, const char *pw)
{
    if (!hash) {
        /* The result is meaningless; the work is what keeps the timing equal. */
        if (crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw)) == 0)
            return 0;
        return 0;
    }
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}
