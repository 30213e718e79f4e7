/* Password hashing: argon2id (libsodium crypto_pwhash). Slow by design: call on workers only. */
#ifndef DP_PASSWORD_H
#define DP_PASSWORD_H

#include <stddef.h>
#include <sodium.h>

#define PASSWORD_MIN 10
#define PASSWORD_MAX 1024
#define PASSWORD_HASH_LEN crypto_pwhash_STRBYTES

/* Sets the cost used by password_hash (ops: passes; mem_kib: memory in KiB) and prepares the
 * dummy hash that unknown accounts are checked against (equal time). Call once at start. */
int password_setup(unsigned long long ops, size_t mem_kib);
/* DP_ERR_INVALID when pw is shorter than PASSWORD_MIN or longer than PASSWORD_MAX bytes. */
int password_check_policy(const char *pw);
int password_hash(const char *pw, char out[PASSWORD_HASH_LEN]);
/* 1 when pw matches hash. hash NULL: verifies against the dummy and returns 0 (same cost). */
int password_verify(const char *hash, const char *pw);

#endif
