/* Account security settings, fixed at start from the configuration. */
#ifndef DP_AUTH_SETTINGS_H
#define DP_AUTH_SETTINGS_H

#include <stdint.h>

#include "auth/jwt.h"

struct auth_settings {
    uint8_t jwt_key[JWT_KEY_LEN];
    long access_ttl;        /* seconds */
    long refresh_ttl;       /* seconds */
    int signup_open;        /* anyone may sign up (the first user always may) */
    int signup_org_default; /* self sign-ups join "default" (else each gets an org of its own) */
    long auth_rate;         /* per minute, per client IP, on auth routes */
    long refresh_grace;     /* seconds a spent refresh token still rotates for the client that spent it */
    long api_rate;          /* per second, per user, on the whole API (burst = 5 s worth) */
};

extern struct auth_settings auth_cfg;

/* Loads or creates the JWT key: hex in key_hex (64 digits) if given, else <data_dir>/jwt.key
 * (created 0600 with random bytes when absent). DP_ERR_INVALID / DP_ERR_IO with a log line. */
int auth_load_key(const char *key_hex, const char *data_dir);

#endif
