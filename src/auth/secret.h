/* Bearer secrets handed to someone once (refresh tokens, visitor tokens, invitations): 32 random
 * bytes, URL-safe; only their SHA-256 is stored, so a database leak hands out nothing usable. */
#ifndef DP_SECRET_H
#define DP_SECRET_H

#define SECRET_LEN 44      /* base64url of 32 bytes, without padding, + NUL */
#define SECRET_HASH_LEN 65 /* hex SHA-256 + NUL */

/* A new secret and its hash. */
void secret_new(char secret[SECRET_LEN], char hash[SECRET_HASH_LEN]);
/* The hash stored for secret s. */
void secret_hash(const char *s, char hash[SECRET_HASH_LEN]);

#endif
