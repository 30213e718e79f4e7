/* TOTP codes and base32 secrets. */
#include "auth/totp.h"

#include <sodium.h>
#include <string.h>

#include "core/sha1.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void hmac_sha1(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen, uint8_t out[20])
{
    uint8_t k[64] = {0}, ipad[64 + 64], opad[64 + 20];
    if (klen > 64)
        sha1(key, klen, k);
    else
        memcpy(k, key, klen);
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    /* Messages here are 8-byte counters; longer ones are not needed. */
    if (mlen > 64)
        mlen = 64;
    memcpy(ipad + 64, msg, mlen);
    sha1(ipad, 64 + mlen, opad + 64);
    sha1(opad, sizeof opad, out);
}

void totp_new_secret(char out[TOTP_SECRET_B32_LEN])
{
    uint8_t raw[20];
    randombytes_buf(raw, sizeof raw);
    for (int i = 0; i < 32; i++) {
        int bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = (unsigned)raw[byte] << 8 | (byte + 1 < 20 ? raw[byte + 1] : 0);
        out[i] = b32_alphabet[(v >> (11 - off)) & 31];
    }
    out[32] = 0;
}

/* Decodes base32 (upper or lower case, no padding); returns the byte count or -1. */
static int b32_decode(const char *s, uint8_t *out, size_t cap)
{
    unsigned buf = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s; s++) {
        const char *p = strchr(b32_alphabet, *s >= 'a' && *s <= 'z' ? *s - 32 : *s);
        if (!p || !*s)
            return -1;
        buf = (buf << 5) | (unsigned)(p - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)n;
}

int totp_code(const char *secret_b32, int64_t step)
{
    uint8_t key[64], msg[8], mac[20];
    int klen = b32_decode(secret_b32, key, sizeof key);
    if (klen <= 0)
        return -1;
    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = (uint8_t)step;
    hmac_sha1(key, (size_t)klen, msg, sizeof msg, mac);
    int off = mac[19] & 0x0f;
    uint32_t bin =
        (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 | (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    return (int)(bin % 1000000);
}

int64_t totp_verify(const char *secret_b32, const char *code, int64_t now, int64_t last_step)
{
    if (!code || strlen(code) != 6)
        return -1;
    int want = 0;
    for (int i = 0; i < 6; i++) {
        if (code[i] < '0' || code[i] > '9')
            return -1;
        want = want * 10 + (code[i] - '0');
    }
    int64_t step = now / 30;
    for (int64_t s = step - 1; s <= step + 1; s++)
        if (s > last_step && totp_code(secret_b32, s) == want)
            return s;
    return -1;
}
