/* TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits) and base32 secrets (RFC 4648). */
#ifndef DP_TOTP_H
#define DP_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_B32_LEN 33 /* 20 random bytes → 32 base32 characters + NUL */

/* A new random secret, base32 without padding. */
void totp_new_secret(char out[TOTP_SECRET_B32_LEN]);
/* The 6-digit code of secret for time step `step` (unix time / 30). -1 on a bad secret. */
int totp_code(const char *secret_b32, int64_t step);
/* Checks code (6 ASCII digits) at unix time now within ±1 step, refusing steps <= last_step
 * (replay). Returns the matching step, or -1. */
int64_t totp_verify(const char *secret_b32, const char *code, int64_t now, int64_t last_step);
/* HMAC-SHA-1 (RFC 2104); exposed for tests. */
void hmac_sha1(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen, uint8_t out[20]);

#endif
