/* Access tokens: JWT (RFC 7519) signed with HS256 only. */
#ifndef DP_JWT_H
#define DP_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

#define JWT_KEY_LEN 32
#define JWT_MAX_LEN 2048 /* longer bearer strings are refused before any parsing */

struct jwt_claims {
    char sub[ID_LEN];      /* user id */
    char org[ID_LEN];      /* organisation id */
    char role[16];         /* admin | manager | member */
    char sid[ID_LEN];      /* session (refresh family) id */
    int64_t iat, nbf, exp; /* seconds since the epoch */
};

/* Signs claims; *out is malloc'd (caller frees). */
int jwt_sign(const uint8_t key[JWT_KEY_LEN], const struct jwt_claims *c, char **out);

/* Verifies token at time now (seconds): header must be exactly alg HS256 and typ JWT, the
 * signature must match (constant time), exp > now, nbf/iat <= now + 30 s skew, token_use
 * "access", every claim present with its type. DP_ERR_UNAUTHORIZED otherwise; reason (may be
 * NULL) receives a short static explanation. */
int jwt_verify(const uint8_t key[JWT_KEY_LEN], const char *token, size_t len, int64_t now, struct jwt_claims *out,
               const char **reason);

#endif
