/* Accounts: users, sessions with one-time refresh tokens, logout everywhere, TOTP.
 * Every function runs on a worker thread (database and argon2id). */
#ifndef DP_ACCOUNTS_H
#define DP_ACCOUNTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/caller.h"

struct db;
struct cache;

#define EMAIL_MAX 254
#define ACCOUNTS_LOCK_USERS 0x646f7070656c0001LL /* serialises "first user" and "last admin" checks */
#define DISPLAY_NAME_MAX 100
#define REFRESH_TOKEN_LEN 44 /* 32 random bytes, base64url, + NUL (= SECRET_LEN) */

#include "core/context.h" /* what every account operation works with */

struct token_pair {
    char *access; /* JWT, malloc'd */
    char refresh[REFRESH_TOKEN_LEN];
    long expires_in; /* seconds of the access token */
};

void token_pair_cleanup(struct token_pair *tp);

/* Trims, checks shape (one @, no spaces or controls, ≤ EMAIL_MAX) and lower-cases ASCII letters:
 * addresses compare case-insensitively. */
int email_normalize(const char *in, char *out, size_t cap);
/* 1–DISPLAY_NAME_MAX bytes of UTF-8 without control characters. */
int display_name_valid(const char *s);

/* The columns accounts_user_from_row reads, in order. */
#define ACCOUNTS_USER_COLUMNS "id, email, display_name, role, org_id, totp_enabled, created_at, updated_at"
struct db_rows;
/* The public JSON of row `row` of a SELECT ACCOUNTS_USER_COLUMNS. */
json_t *accounts_user_from_row(const struct db_rows *r, int row);

/* The public JSON of a user (no hash, no secret); DP_ERR_NOT_FOUND when absent. */
int accounts_user_json(struct db *db, const char *user_id, json_t **out);

/* The display name an account gets when none is given: the e-mail's local part (whole UTF-8
 * characters, at most DISPLAY_NAME_MAX bytes), or "user". */
void accounts_default_display_name(const char *email, char out[DISPLAY_NAME_MAX + 1]);

/* Creates a user in org_id (NULL: "default") (hashing the password); display_name NULL: the
 * e-mail's local part. role < 0: admin when the instance has no user yet, else member.
 * DP_ERR_CONFLICT when the e-mail is taken; DP_ERR_UNPROCESSABLE when the org does not exist;
 * DP_ERR_INVALID (msg says what). */
int accounts_create_user(struct context *e, const char *email, const char *password, const char *display_name,
                         const char *org_id, int role, json_t **user, char *msg, size_t msglen);

/* A self sign-up: the instance's first account becomes admin of "default"; later ones are
 * members of invited_org (the org that invited the address; may be NULL), else of an organisation
 * of their own, created here ("default" with --signup-org default). Same errors as
 * accounts_create_user; a taken address costs the same work as a new one. */
int accounts_signup(struct context *e, const char *email, const char *password, const char *display_name,
                    const char *invited_org, json_t **user, char *msg, size_t msglen);

/* Starts a session for user and fills tp. */
int accounts_start_session(struct context *e, const char *user_id, struct token_pair *tp);

/* Login. On success *user and tp are set. DP_ERR_UNAUTHORIZED with *code "invalid_credentials"
 * (unknown e-mail and wrong password alike, same cost) or "totp_required"/"invalid_totp";
 * DP_ERR_RATE_LIMITED with *retry_ms when this address is in its failure back-off for this
 * account, or the account is locked against distributed guessing and device_token (a refresh
 * token the client holds, e.g. its cookie; may be NULL) is not one of this account's. */
int accounts_login(struct context *e, const char *email, const char *password, const char *totp,
                   const char *device_token, json_t **user, struct token_pair *tp, int64_t *retry_ms,
                   const char **code);

/* Spends refresh token and issues a new pair. A spent token presented again revokes the whole
 * session (stolen-token detection) and fails with DP_ERR_UNAUTHORIZED. */
int accounts_refresh(struct context *e, const char *token, json_t **user, struct token_pair *tp);

/* Revokes one session now, in the database and the cache (so every instance sees it). */
int accounts_revoke_session(struct context *e, const char *sid, const char *reason);
/* Marks a session revoked in the cache only (its row is gone or already revoked) and, with
 * user_id (NULL: already announced), announces it on ACCOUNTS_REVOKED_CHANNEL. */
void accounts_mark_session_revoked(struct context *e, const char *user_id, const char *sid);
/* The pub/sub channel a revoked session is announced on, as "user_id session_id": every
 * instance closes the live sockets (the events WebSocket) the session opened. */
#define ACCOUNTS_REVOKED_CHANNEL "auth:session-revoked"
/* Revokes every session of a user (role/org change, deletion, password change). */
int accounts_revoke_user_sessions(struct context *e, const char *user_id, const char *reason);
/* DP_OK when sid is a live session, DP_ERR_UNAUTHORIZED when revoked or unknown;
 * DP_ERR_WOULDBLOCK when e->db is NULL (loop thread) and the cache does not know. */
int accounts_check_session(struct context *e, const char *sid);
/* The security-cache key of session sid's state (64 bytes), for a caller that reads it together
 * with something else (the auth hook: with the rate limit, in one round trip). */
void accounts_session_key(const char *sid, char out[64]);
/* accounts_check_session with the key's value already read: cached is the value, or NULL when
 * the key was absent. */
int accounts_check_session_cached(struct context *e, const char *sid, const char *cached);

/* TOTP: setup stores a new secret (not yet enabled) and returns it with its otpauth:// URI. */
int accounts_totp_setup(struct context *e, const struct caller *c, json_t **out);
/* enable checks code against the pending secret; *out gets the one-time recovery codes. */
int accounts_totp_enable(struct context *e, const struct caller *c, const char *code, json_t **out);
/* disable needs the password and a TOTP or recovery code. */
int accounts_totp_disable(struct context *e, const struct caller *c, const char *password, const char *code);

/* The user's public JSON text from the cache, else from the database (then cached for 60 s,
 * under the user's scope's generation). *out is malloc'd. DP_ERR_WOULDBLOCK when e->db is NULL
 * and the cache does not have it. */
int accounts_user_json_cached(struct context *e, const char *user_id, char **out, size_t *len);
/* The cache scope (store/cache_gen.h) of what is cached for one user: their JSON, and every
 * answer that depends on who they are (their avatar lists, their view of an avatar); out holds
 * CACHE_GEN_SCOPE_MAX bytes. */
void accounts_user_scope(const char *user_id, char *out);
/* Forgets every cached answer of a user after a change to them (fields, role, organisation,
 * deletion): moves their scope on. */
void accounts_user_changed(struct context *e, const char *user_id);

/* Active (not revoked) sessions, for the gauge. */
int accounts_count_sessions(struct db *db, int64_t *n);
int accounts_count_users(struct db *db, int64_t *n);
int accounts_count_orgs(struct db *db, int64_t *n);

#endif
