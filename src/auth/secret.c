/* Bearer secrets (see secret.h). */
#include "auth/secret.h"

#include <sodium.h>
#include <string.h>

void secret_hash(const char *s, char hash[SECRET_HASH_LEN])
{
    uint8_t d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const uint8_t *)s, strlen(s));
    sodium_bin2hex(hash, SECRET_HASH_LEN, d, sizeof d);
}

void secret_new(char secret[SECRET_LEN], char hash[SECRET_HASH_LEN])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(secret, SECRET_LEN, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    secret_hash(secret, hash);
}
