/* Signed URLs: a link to one object that works without an Authorization header until it expires
 * (what an HTML <audio src> needs). The signature is an HMAC of the object and the expiry under
 * the server's key — no token of the user ever goes into a URL, where logs would keep it. */
#ifndef DP_URL_SIG_H
#define DP_URL_SIG_H

#include <stdint.h>

#define URL_SIG_LEN 44 /* base64url of the HMAC-SHA256, without padding, + NUL */

/* The signature of (scope, id) valid until exp (Unix seconds). */
void url_sig_make(const char *scope, const char *id, int64_t exp, char out[URL_SIG_LEN]);

/* The expiry of a link signed now: the end of the next whole hour, so that a link stays the same
 * for an hour (clients cache it) and lives between one and two hours. */
int64_t url_sig_expiry(int64_t now_s);

/* DP_OK when sig signs (scope, id, exp) and exp (decimal text) is still ahead of now_s; else
 * DP_ERR_NOT_FOUND (a forged or expired link reveals nothing). */
int url_sig_check(const char *scope, const char *id, const char *exp, const char *sig, int64_t now_s);

#endif
