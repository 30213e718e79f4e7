/* Accounts: creation, login with failure back-off, sessions, refresh rotation, revocation, TOTP. */
#include "auth/accounts.h"
#include "auth/secret.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/password.h"
#include "auth/settings.h"
#include "auth/totp.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "store/cache.h"
#include "store/cache_gen.h"
#include "store/db.h"
#include "store/db_read.h"

#define FAIL_FREE_TRIES 5 /* failed logins before back-off starts */
#define FAIL_WINDOW_MS (15 * 60 * 1000)
#define FAIL_MAX_DELAY_S 900
#define RECOVERY_CODES 10

void token_pair_cleanup(struct token_pair *tp)
{
    free(tp->access);
    tp->access = NULL;
    sodium_memzero(tp->refresh, sizeof tp->refresh);
}

int email_normalize(const char *in, char *out, size_t cap)
{
    while (*in && isspace((unsigned char)*in))
        in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1]))
        n--;
    if (n < 3 || n > EMAIL_MAX || n + 1 > cap)
        return DP_ERR_INVALID;
    const char *at = memchr(in, '@', n);
    if (!at || at == in || at == in + n - 1 || memchr(at + 1, '@', n - (size_t)(at + 1 - in)))
        return DP_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',')
            return DP_ERR_INVALID;
        /* RFC 5321 lets a local part have case, but no mail system in use gives Bob@ and bob@
         * to two people: one account per address whatever its spelling (ASCII folded only, as
         * SQLite's lower() and the 0011 migration do). */
        out[i] = (char)tolower(c);
    }
    out[n] = 0;
    if (!utf8_valid(out, n) || strstr(at, ".."))
        return DP_ERR_INVALID;
    return DP_OK;
}

int display_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > DISPLAY_NAME_MAX || !utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

json_t *accounts_user_from_row(const struct db_rows *r, int row)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "id", db_rows_text(r, row, 0), "email",
                     db_rows_text(r, row, 1), "display_name", db_rows_text(r, row, 2), "role", db_rows_text(r, row, 3),
                     "org_id", db_rows_text(r, row, 4), "totp_enabled", (int)db_rows_int(r, row, 5), "created_at",
                     db_rows_text(r, row, 6), "updated_at", db_rows_text(r, row, 7));
}

int accounts_user_json(struct db *db, const char *user_id, json_t **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(user_id)};
    int err = db_query(db, "SELECT " ACCOUNTS_USER_COLUMNS " FROM users WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1)
        err = DP_ERR_NOT_FOUND;
    else
        *out = accounts_user_from_row(r, 0);
    db_rows_free(r);
    return err;
}

void accounts_default_display_name(const char *email, char out[DISPLAY_NAME_MAX + 1])
{
    /* The local part, whole UTF-8 characters that fit, control bytes dropped (email_normalize
     * refuses them anyway); "user" when nothing is left. */
    size_t n = 0;
    const char *at = email ? strchr(email, '@') : NULL;
    size_t len = at ? (size_t)(at - email) : 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)email[i];
        size_t cl = utf8_decode((const unsigned char *)email + i, len - i, NULL);
        if (!cl) { /* not UTF-8: no name from it */
            n = 0;
            break;
        }
        if (n + cl > DISPLAY_NAME_MAX)
            break;
        if (cl > 1 || (c >= 0x20 && c != 0x7f)) {
            memcpy(out + n, email + i, cl);
            n += cl;
        }
        i += cl;
    }
    out[n] = 0;
    if (n == 0)
        snprintf(out, DISPLAY_NAME_MAX + 1, "user");
}

/* Checks and normalises what every new account needs; *display_name may be replaced by
 * name_buf (the e-mail's local part) when absent. */
static int new_user_input(const char *email_in, const char *password, const char **display_name,
                          char email[EMAIL_MAX + 1], char name_buf[DISPLAY_NAME_MAX + 1], char *msg, size_t msglen)
{
    if (email_normalize(email_in ? email_in : "", email, EMAIL_MAX + 1)) {
        snprintf(msg, msglen, "email is not a valid address");
        return DP_ERR_INVALID;
    }
    if (password_check_policy(password)) {
        snprintf(msg, msglen, "password must be %d to %d bytes", PASSWORD_MIN, PASSWORD_MAX);
        return DP_ERR_INVALID;
    }
    if (!*display_name) {
        accounts_default_display_name(email, name_buf);
        *display_name = name_buf;
    }
    if (!display_name_valid(*display_name)) {
        snprintf(msg, msglen, "display_name must be 1 to %d characters without control characters", DISPLAY_NAME_MAX);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

/* A personal organisation for a self sign-up, named after its person (in the open transaction). */
static int create_personal_org(struct context *e, const char *display_name, const char *now, char org_id[ID_LEN])
{
    char name[DISPLAY_NAME_MAX + 16];
    /* display_name is at most 100 bytes, the limit of an org name: keep it whole when the
     * suffix does not fit. */
    if (strlen(display_name) + strlen(" (personal)") <= DISPLAY_NAME_MAX)
        snprintf(name, sizeof name, "%s (personal)", display_name);
    else
        snprintf(name, sizeof name, "%s", display_name);
    id_new(org_id);
    struct db_val p[] = {DB_TEXT(org_id), DB_TEXT(name), DB_TEXT(now)};
    return db_query(e->db, "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)", p, 3, NULL);
}

/* Inserts a user (input checked). org_id NULL: a self sign-up — the instance's first account
 * administers "default", later ones join org `signup_org` (an invitation's, or "default") or, when
 * that is NULL, an org of their own. role < 0 with an org: admin when the instance is empty, else
 * member. */
static int insert_user(struct context *e, const char *email, const char *password, const char *display_name,
                       const char *org_id, const char *signup_org, int role, json_t **user, char *msg, size_t msglen)
{
    char hash[PASSWORD_HASH_LEN];
    int err = password_hash(password, hash); /* before the lock: the costly part, and the same for a taken address */
    if (err)
        return err;
    char id[ID_LEN], now[RFC3339_LEN], personal[ID_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    if ((err = db_begin(e->db)) || (err = db_xact_lock(e->db, ACCOUNTS_LOCK_USERS)))
        goto out_rollback;
    if (role < 0) {
        /* The first account of an empty instance administers it (the lock makes it one). */
        struct db_rows *r;
        if ((err = db_query(e->db, "SELECT COUNT(*) FROM users", NULL, 0, &r)))
            goto out_rollback;
        int first = db_rows_int(r, 0, 0) == 0;
        db_rows_free(r);
        role = first ? ROLE_ADMIN : ROLE_MEMBER;
        if (!org_id && first) {
            org_id = "default";
        } else if (!org_id && signup_org) {
            org_id = signup_org;
        } else if (!org_id) {
            /* A stranger signing up must not land among an organisation's people and avatars.
             * (A taken address fails the insert below and the rollback takes the org back.) */
            if ((err = create_personal_org(e, display_name, now, personal)))
                goto out_rollback;
            org_id = personal;
        }
    }
    struct db_val p[] = {DB_TEXT(id),           DB_TEXT(org_id), DB_TEXT(email),
                         DB_TEXT(display_name), DB_TEXT(hash),   DB_TEXT(role_name((enum role)role)),
                         DB_TEXT(now),          DB_TEXT(now)};
    err = db_query(e->db,
                   "INSERT INTO users (id, org_id, email, display_name, password_hash, role, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 8, NULL);
    if (err == DP_ERR_CONFLICT) {
        /* Either the e-mail is taken or the org does not exist: say which, outside the failed
         * transaction (PostgreSQL refuses every statement of an aborted one). */
        db_rollback(e->db);
        struct db_rows *r = NULL;
        struct db_val q[] = {DB_TEXT(email)};
        int exists = 0;
        if (!db_query(e->db, "SELECT 1 FROM users WHERE email = ?", q, 1, &r))
            exists = r->nrows > 0;
        db_rows_free(r);
        snprintf(msg, msglen, exists ? "an account with this email already exists" : "no such organisation");
        return exists ? DP_ERR_CONFLICT : DP_ERR_UNPROCESSABLE;
    }
    if (err || (err = db_commit(e->db)))
        goto out_rollback;
    audit_write(e->db, "user.create", NULL, id, org_id, e->ip, json_pack("{s:s}", "role", role_name((enum role)role)));
    return accounts_user_json(e->db, id, user);
out_rollback:
    db_rollback(e->db);
    return err;
}

int accounts_create_user(struct context *e, const char *email_in, const char *password, const char *display_name,
                         const char *org_id, int role, json_t **user, char *msg, size_t msglen)
{
    char email[EMAIL_MAX + 1], name[DISPLAY_NAME_MAX + 1];
    int err = new_user_input(email_in, password, &display_name, email, name, msg, msglen);
    if (err)
        return err;
    return insert_user(e, email, password, display_name, org_id ? org_id : "default", NULL, role, user, msg, msglen);
}

int accounts_signup(struct context *e, const char *email_in, const char *password, const char *display_name,
                    const char *invited_org, json_t **user, char *msg, size_t msglen)
{
    char email[EMAIL_MAX + 1], name[DISPLAY_NAME_MAX + 1];
    int err = new_user_input(email_in, password, &display_name, email, name, msg, msglen);
    if (err)
        return err;
    const char *join = invited_org ? invited_org : auth_cfg.signup_org_default ? "default" : NULL;
    return insert_user(e, email, password, display_name, NULL, join, -1, user, msg, msglen);
}

static void session_cache_key(const char *sid, char out[64])
{
    snprintf(out, 64, "sess:%s", sid);
}

/* A session's state in the security cache is a counter: a check that found the session live in
 * the database adds 1 (creating it for 60 s), a revocation adds SESSION_REVOKED. Adding, never
 * setting, makes the order of the two irrelevant: a check that read the database before a
 * revocation and stores after it still finds the revocation's mark, on every instance. */
#define SESSION_REVOKED ((int64_t)1 << 40)

/* Issues an access token for user in session sid. */
static int issue_access(struct context *e, const char *user_id, const char *sid, struct token_pair *tp)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(user_id)};
    int err = db_query(e->db, "SELECT org_id, role FROM users WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_UNAUTHORIZED;
    }
    struct jwt_claims c = {0};
    snprintf(c.sub, sizeof c.sub, "%s", user_id);
    snprintf(c.org, sizeof c.org, "%s", db_rows_text(r, 0, 0));
    snprintf(c.role, sizeof c.role, "%s", db_rows_text(r, 0, 1));
    snprintf(c.sid, sizeof c.sid, "%s", sid);
    db_rows_free(r);
    c.iat = c.nbf = time_now_ms() / 1000;
    c.exp = c.iat + auth_cfg.access_ttl;
    tp->expires_in = auth_cfg.access_ttl;
    return jwt_sign(auth_cfg.jwt_key, &c, &tp->access);
}

/* Inserts a new refresh token of session sid into tp->refresh. */
static int new_refresh_token(struct context *e, const char *sid, struct token_pair *tp)
{
    char hash[SECRET_HASH_LEN], now[RFC3339_LEN];
    secret_new(tp->refresh, hash);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(hash), DB_TEXT(sid), DB_TEXT(now),
                         DB_INT(time_now_ms() + (int64_t)auth_cfg.refresh_ttl * 1000)};
    return db_query(e->db, "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    p, 4, NULL);
}

int accounts_start_session(struct context *e, const char *user_id, struct token_pair *tp)
{
    char sid[ID_LEN], now[RFC3339_LEN];
    id_new(sid);
    time_rfc3339(time_now_ms(), now);
    int err = db_begin(e->db);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(sid), DB_TEXT(user_id), DB_TEXT(now),
                         DB_TEXT(now), DB_TEXT(e->ip),   DB_TEXT(e->user_agent)};
    err = db_query(e->db,
                   "INSERT INTO sessions (id, user_id, created_at, last_used_at, ip, user_agent) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   p, 6, NULL);
    if (!err)
        err = new_refresh_token(e, sid, tp);
    if (!err)
        err = db_commit(e->db);
    if (err) {
        db_rollback(e->db);
        return err;
    }
    return issue_access(e, user_id, sid, tp);
}

/* Failure back-off, kept in the security space of the cache (known e-mails or not, so it
 * reveals nothing), at two levels:
 *  - per (client address, account) pair: after FAIL_FREE_TRIES failures, 1 s, 2 s, 4 s … up to
 *    15 minutes for that pair only, so that a stranger guessing from one address does not lock
 *    the owner out from another;
 *  - per account, from every address: ACCOUNT_FAIL_CEILING failures in FAIL_WINDOW_MS lock the
 *    account for ACCOUNT_LOCK_MS against distributed guessing — except for the right password
 *    from a known device (one holding a refresh token of the account). */
#define ACCOUNT_FAIL_CEILING 100
#define ACCOUNT_LOCK_MS (15 * 60 * 1000)

struct fail_keys {
    char pair_count[96], pair_lock[96], acct_count[96], acct_lock[96];
};

static void fail_keys(const char *ip, const char *email, struct fail_keys *k)
{
    char h[65], pair[EMAIL_MAX + 80];
    secret_hash(email, h);
    snprintf(k->acct_count, sizeof k->acct_count, "loginfail:a:%.32s", h);
    snprintf(k->acct_lock, sizeof k->acct_lock, "loginlock:a:%.32s", h);
    snprintf(pair, sizeof pair, "%s|%s", ip ? ip : "", email);
    secret_hash(pair, h);
    snprintf(k->pair_count, sizeof k->pair_count, "loginfail:p:%.32s", h);
    snprintf(k->pair_lock, sizeof k->pair_lock, "loginlock:p:%.32s", h);
}

/* 1 with *retry_ms when the lock key holds a time still ahead. */
static int locked(struct context *e, const char *lock_key, int64_t *retry_ms)
{
    char *v = NULL;
    size_t len;
    if (cache_get(e->security, lock_key, &v, &len))
        return 0;
    int64_t until = strtoll(v, NULL, 10) - time_now_ms();
    free(v);
    if (until <= 0)
        return 0;
    *retry_ms = until;
    return 1;
}

static void lock_for(struct context *e, const char *lock_key, int64_t ms)
{
    char until[32];
    snprintf(until, sizeof until, "%lld", (long long)(time_now_ms() + ms));
    cache_set(e->security, lock_key, until, strlen(until), (int)ms);
}

static void record_failure(struct context *e, const char *email)
{
    struct fail_keys k;
    fail_keys(e->ip, email, &k);
    int64_t n = 0;
    if (!cache_incr(e->security, k.acct_count, 1, FAIL_WINDOW_MS, &n) && n == ACCOUNT_FAIL_CEILING) {
        lock_for(e, k.acct_lock, ACCOUNT_LOCK_MS);
        DP_LOG(LOG_WARN, "[auth] %d failed logins of one account in 15 minutes: locked for unknown devices",
               ACCOUNT_FAIL_CEILING);
    }
    if (cache_incr(e->security, k.pair_count, 1, FAIL_WINDOW_MS, &n) || n < FAIL_FREE_TRIES)
        return;
    /* 1 s, 2 s, 4 s … after the free tries, capped at 15 minutes. */
    int64_t shift = n - FAIL_FREE_TRIES;
    int64_t delay_s = shift >= 10 ? FAIL_MAX_DELAY_S : (int64_t)1 << shift;
    if (delay_s > FAIL_MAX_DELAY_S)
        delay_s = FAIL_MAX_DELAY_S;
    lock_for(e, k.pair_lock, delay_s * 1000);
}

/* A success clears its pair only: the account's count runs out with its window, or a guesser
 * would get a fresh ceiling each time the owner logs in. */
static void clear_failures(struct context *e, const char *email)
{
    struct fail_keys k;
    fail_keys(e->ip, email, &k);
    cache_del(e->security, k.pair_count);
    cache_del(e->security, k.pair_lock);
}

/* 1 when device_token is a refresh token, not expired, of a session of the account email that
 * was not ended for token theft: the request comes from a device that has logged in before. */
static int known_device(struct context *e, const char *email, const char *device_token)
{
    if (!device_token || strlen(device_token) != REFRESH_TOKEN_LEN - 1)
        return 0;
    char hash[65];
    secret_hash(device_token, hash);
    struct db_rows *r = NULL;
    struct db_val p[] = {DB_TEXT(hash), DB_TEXT(email), DB_INT(time_now_ms())};
    if (db_query(
            e->db,
            "SELECT 1 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id "
            "WHERE t.hash = ? AND u.email = ? AND t.expires_at > ? "
            "AND (s.revoke_reason IS NULL OR s.revoke_reason <> 'refresh_reuse')",
            p, 3, &r))
        return 0;
    int known = r->nrows > 0;
    db_rows_free(r);
    return known;
}

/* Consumes a recovery code of user; 1 when it was valid and unused. */
static int use_recovery_code(struct context *e, const char *user_id, const char *code)
{
    char h[65], now[RFC3339_LEN];
    secret_hash(code, h);
    time_rfc3339(time_now_ms(), now);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(now), DB_TEXT(user_id), DB_TEXT(h)};
    if (db_query(e->db, "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL", p,
                 3, &r))
        return 0;
    int ok = r->changes == 1;
    db_rows_free(r);
    return ok;
}

/* Checks a second factor: a TOTP code (replay-protected) or a recovery code. */
static int check_second_factor(struct context *e, const char *user_id, const char *secret, int64_t last_step,
                               const char *code)
{
    int64_t step = totp_verify(secret, code, time_now_ms() / 1000, last_step);
    if (step >= 0) {
        struct db_rows *r;
        struct db_val p[] = {DB_INT(step), DB_TEXT(user_id), DB_INT(step)};
        /* Conditional update: two logins racing with the same code cannot both win. */
        if (db_query(e->db, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", p, 3, &r))
            return 0;
        int ok = r->changes == 1;
        db_rows_free(r);
        return ok;
    }
    return code && strlen(code) > 6 && use_recovery_code(e, user_id, code);
}

int accounts_login(struct context *e, const char *email_in, const char *password, const char *totp,
                   const char *device_token, json_t **user, struct token_pair *tp, int64_t *retry_ms, const char **code)
{
    char email[EMAIL_MAX + 1];
    *code = "invalid_credentials";
    int valid_email = email_normalize(email_in ? email_in : "", email, sizeof email) == DP_OK;
    if (!valid_email)
        snprintf(email, sizeof email, "%.200s", email_in ? email_in : "");
    struct fail_keys k;
    fail_keys(e->ip, email, &k);
    /* Refused before the password is looked at: a guesser in back-off learns nothing. */
    if (locked(e, k.pair_lock, retry_ms) ||
        (locked(e, k.acct_lock, retry_ms) && !known_device(e, email, device_token))) {
        *code = "rate_limited";
        return DP_ERR_RATE_LIMITED;
    }
    struct db_rows *r = NULL;
    struct db_val p[] = {DB_TEXT(email)};
    int err = valid_email ? db_query(e->db,
                                     "SELECT id, password_hash, totp_enabled, totp_secret, totp_last_step, org_id "
                                     "FROM users WHERE email = ?",
                                     p, 1, &r)
                          : DP_OK;
    if (err)
        return err;
    const char *hash = r && r->nrows == 1 ? db_rows_text(r, 0, 1) : NULL;
    /* Unknown accounts verify against a dummy hash: same answer, same time. */
    int ok = password_verify(hash, password ? password : "");
    if (!ok) {
        record_failure(e, email);
        if (hash)
            audit_write(e->db, "login.failure", NULL, db_rows_text(r, 0, 0), db_rows_text(r, 0, 5), e->ip, NULL);
        db_rows_free(r);
        return DP_ERR_UNAUTHORIZED;
    }
    char uid[ID_LEN];
    snprintf(uid, sizeof uid, "%s", db_rows_text(r, 0, 0));
    if (db_rows_int(r, 0, 2)) {
        if (!totp || !*totp) {
            *code = "totp_required";
            db_rows_free(r);
            return DP_ERR_UNAUTHORIZED;
        }
        if (!check_second_factor(e, uid, db_rows_text(r, 0, 3), db_rows_int(r, 0, 4), totp)) {
            *code = "invalid_totp";
            record_failure(e, email);
            audit_write(e->db, "login.failure", NULL, uid, db_rows_text(r, 0, 5), e->ip,
                        json_pack("{s:s}", "reason", "totp"));
            db_rows_free(r);
            return DP_ERR_UNAUTHORIZED;
        }
    }
    char org[ID_LEN];
    snprintf(org, sizeof org, "%s", db_rows_text(r, 0, 5));
    db_rows_free(r);
    clear_failures(e, email);
    if ((err = accounts_start_session(e, uid, tp)))
        return err;
    audit_write(e->db, "login.success", uid, uid, org, e->ip, NULL);
    return accounts_user_json(e->db, uid, user);
}

int accounts_revoke_session(struct context *e, const char *sid, const char *reason)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(now), DB_TEXT(reason), DB_TEXT(sid)};
    struct db_rows *r;
    int err = db_query(e->db,
                       "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL "
                       "RETURNING user_id",
                       p, 3, &r);
    if (err)
        return err;
    /* Announced once, by the revocation that changed the row. */
    accounts_mark_session_revoked(e, r->nrows ? db_rows_text(r, 0, 0) : NULL, sid);
    db_rows_free(r);
    return DP_OK;
}

void accounts_mark_session_revoked(struct context *e, const char *user_id, const char *sid)
{
    char key[64];
    /* The cache entry outlives every access token of the session, so no instance lets one pass. */
    session_cache_key(sid, key);
    if (!cache_incr(e->security, key, SESSION_REVOKED, (int)((auth_cfg.access_ttl + 60) * 1000), NULL))
        cache_announce(e->security, key); /* every instance's near copy of "live" is gone first */
    if (!user_id)
        return;
    /* Open sockets were authenticated once, at their start: they are told to end now. A lost
     * announcement (pub/sub down) leaves a socket open, never a request through. */
    char msg[2 * ID_LEN + 2];
    int n = snprintf(msg, sizeof msg, "%s %s", user_id, sid);
    if (cache_publish(e->security, ACCOUNTS_REVOKED_CHANNEL, msg, (size_t)n))
        DP_LOG(LOG_WARN, "[auth] announcing a revoked session failed: its open sockets stay open");
}

int accounts_revoke_user_sessions(struct context *e, const char *user_id, const char *reason)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(user_id)};
    int err = db_query(e->db, "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", p, 1, &r);
    if (err)
        return err;
    for (int i = 0; i < r->nrows && !err; i++)
        err = accounts_revoke_session(e, db_rows_text(r, i, 0), reason);
    db_rows_free(r);
    return err;
}

void accounts_session_key(const char *sid, char out[64])
{
    session_cache_key(sid, out);
}

int accounts_check_session(struct context *e, const char *sid)
{
    char key[64], *v = NULL;
    size_t len;
    session_cache_key(sid, key);
    if (cache_get(e->security, key, &v, &len))
        v = NULL;
    int err = accounts_check_session_cached(e, sid, v);
    free(v);
    return err;
}

int accounts_check_session_cached(struct context *e, const char *sid, const char *cached)
{
    char key[64];
    session_cache_key(sid, key);
    if (cached) {
        long long n = strtoll(cached, NULL, 10);
        return n > 0 && n < SESSION_REVOKED ? DP_OK : DP_ERR_UNAUTHORIZED;
    }
    if (!e->db)
        return DP_ERR_WOULDBLOCK;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(sid)};
    int err = db_query(e->db, "SELECT revoked_at FROM sessions WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    int live = r->nrows == 1 && db_rows_is_null(r, 0, 0);
    db_rows_free(r);
    if (!live) {
        if (!cache_incr(e->security, key, SESSION_REVOKED, (int)(auth_cfg.access_ttl * 1000), NULL))
            cache_announce(e->security, key);
        return DP_ERR_UNAUTHORIZED;
    }
    /* Live is remembered for 60 s; a revocation that landed meanwhile shows in the sum. */
    int64_t n = 0;
    if (!cache_incr(e->security, key, 1, 60000, &n) && n >= SESSION_REVOKED)
        return DP_ERR_UNAUTHORIZED;
    return DP_OK;
}

/* Spends token (hash) of session sid for this client; *won 0 when another request spent it
 * first. On a win, the session gets a new refresh token in tp. */
static int spend_refresh(struct context *e, const char *hash, const char *sid, struct token_pair *tp, int *won)
{
    char now[RFC3339_LEN];
    int64_t now_ms = time_now_ms();
    time_rfc3339(now_ms, now);
    struct db_rows *r;
    int err = db_begin(e->db);
    if (err)
        return err;
    struct db_val q[] = {DB_TEXT(now), DB_INT(now_ms), DB_TEXT(e->ip), DB_TEXT(hash)};
    err = db_query(
        e->db,
        "UPDATE refresh_tokens SET spent_at = ?, spent_at_ms = ?, spent_ip = ? WHERE hash = ? AND spent_at IS NULL", q,
        4, &r);
    if (!err) {
        *won = r->changes == 1;
        db_rows_free(r);
    }
    if (!err && *won) {
        struct db_val u[] = {DB_TEXT(now), DB_TEXT(sid)};
        err = db_query(e->db, "UPDATE sessions SET last_used_at = ? WHERE id = ?", u, 2, NULL);
    }
    if (!err && *won)
        err = new_refresh_token(e, sid, tp);
    if (!err)
        err = db_commit(e->db);
    if (err)
        db_rollback(e->db);
    return err;
}

/* 1 when a spent token came back from the client that spent it, within the grace: the same
 * client refreshing twice at once (two tabs, a retried request), not a copy elsewhere. */
static int within_grace(struct context *e, const char *hash)
{
    if (auth_cfg.refresh_grace <= 0)
        return 0;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(hash)};
    if (db_query(e->db, "SELECT spent_at_ms, spent_ip FROM refresh_tokens WHERE hash = ?", p, 1, &r))
        return 0;
    int ok = r->nrows == 1 && !db_rows_is_null(r, 0, 0) && !db_rows_is_null(r, 0, 1) &&
             time_now_ms() - db_rows_int(r, 0, 0) <= auth_cfg.refresh_grace * 1000 &&
             !strcmp(db_rows_text(r, 0, 1), e->ip ? e->ip : "");
    db_rows_free(r);
    return ok;
}

int accounts_refresh(struct context *e, const char *token, json_t **user, struct token_pair *tp)
{
    if (!token || strlen(token) != REFRESH_TOKEN_LEN - 1)
        return DP_ERR_UNAUTHORIZED;
    char hash[65];
    secret_hash(token, hash);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(hash)};
    int err = db_query(e->db,
                       "SELECT t.session_id, t.spent_at, t.expires_at, s.revoked_at, s.user_id, u.org_id "
                       "FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id "
                       "WHERE t.hash = ?",
                       p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_UNAUTHORIZED;
    }
    char sid[ID_LEN], uid[ID_LEN], org[ID_LEN];
    snprintf(sid, sizeof sid, "%s", db_rows_text(r, 0, 0));
    snprintf(uid, sizeof uid, "%s", db_rows_text(r, 0, 4));
    snprintf(org, sizeof org, "%s", db_rows_text(r, 0, 5));
    int spent = !db_rows_is_null(r, 0, 1), revoked = !db_rows_is_null(r, 0, 3);
    int expired = db_rows_int(r, 0, 2) <= time_now_ms();
    db_rows_free(r);
    if (revoked || expired)
        return DP_ERR_UNAUTHORIZED;
    int won = 0;
    if (!spent && (err = spend_refresh(e, hash, sid, tp, &won)))
        return err;
    if (!won && within_grace(e, hash)) {
        /* A fresh pair of the same session: whichever answer the client keeps, it holds a live
         * token. The spent one stays spent; presented after the grace, it revokes as below. */
        if ((err = new_refresh_token(e, sid, tp)))
            return err;
        won = 1;
    }
    if (!won) {
        /* A spent token came back: someone holds a copy. End the whole family. */
        accounts_revoke_session(e, sid, "refresh_reuse");
        audit_write(e->db, "session.refresh_reuse", NULL, uid, org, e->ip, json_pack("{s:s}", "session_id", sid));
        DP_LOG(LOG_WARN, "[auth] refresh token reuse: session revoked");
        return DP_ERR_UNAUTHORIZED;
    }
    if ((err = issue_access(e, uid, sid, tp)))
        return err;
    return accounts_user_json(e->db, uid, user);
}

int accounts_totp_setup(struct context *e, const struct caller *c, json_t **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT totp_enabled, email FROM users WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1 || db_rows_int(r, 0, 0)) {
        int found = r->nrows == 1;
        db_rows_free(r);
        return found ? DP_ERR_CONFLICT : DP_ERR_NOT_FOUND;
    }
    char secret[TOTP_SECRET_B32_LEN], uri[3 * (EMAIL_MAX + 1) + 160], email[EMAIL_MAX + 1];
    snprintf(email, sizeof email, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    totp_new_secret(secret);
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val q[] = {DB_TEXT(secret), DB_TEXT(now), DB_TEXT(c->user_id)};
    if ((err = db_query(e->db, "UPDATE users SET totp_secret = ?, updated_at = ? WHERE id = ?", q, 3, NULL)))
        return err;
    /* The label is the e-mail; characters that would break the URI are percent-encoded. */
    char label[3 * (EMAIL_MAX + 1)];
    size_t at = 0;
    for (const char *s = email; *s && at + 4 < sizeof label; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == '@')
            label[at++] = (char)ch;
        else
            at += (size_t)snprintf(label + at, sizeof label - at, "%%%02X", ch);
    }
    label[at] = 0;
    snprintf(uri, sizeof uri, "otpauth://totp/Doppel:%s?secret=%s&issuer=Doppel&algorithm=SHA1&digits=6&period=30",
             label, secret);
    audit_write(e->db, "totp.setup", c->user_id, c->user_id, c->org_id, e->ip, NULL);
    *out = json_pack("{s:s,s:s}", "secret", secret, "otpauth_uri", uri);
    return DP_OK;
}

int accounts_totp_enable(struct context *e, const struct caller *c, const char *code, json_t **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT totp_enabled, totp_secret, totp_last_step FROM users WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1 || db_rows_int(r, 0, 0) || db_rows_is_null(r, 0, 1)) {
        int found = r->nrows == 1;
        db_rows_free(r);
        return found ? DP_ERR_CONFLICT : DP_ERR_NOT_FOUND;
    }
    int64_t step = totp_verify(db_rows_text(r, 0, 1), code, time_now_ms() / 1000, db_rows_int(r, 0, 2));
    db_rows_free(r);
    if (step < 0)
        return DP_ERR_UNPROCESSABLE;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    if ((err = db_begin(e->db)))
        return err;
    struct db_val q[] = {DB_INT(step), DB_TEXT(now), DB_TEXT(c->user_id)};
    err = db_query(e->db, "UPDATE users SET totp_enabled = 1, totp_last_step = ?, updated_at = ? WHERE id = ?", q, 3,
                   NULL);
    struct db_val d[] = {DB_TEXT(c->user_id)};
    if (!err)
        err = db_query(e->db, "DELETE FROM recovery_codes WHERE user_id = ?", d, 1, NULL);
    json_t *codes = json_array();
    for (int i = 0; i < RECOVERY_CODES && !err; i++) {
        /* 10 characters of base32 each: 50 bits, plenty for single-use codes behind a password. */
        char secret[TOTP_SECRET_B32_LEN], codebuf[12], h[65];
        totp_new_secret(secret);
        snprintf(codebuf, sizeof codebuf, "%.5s-%.5s", secret, secret + 5);
        secret_hash(codebuf, h);
        struct db_val ins[] = {DB_TEXT(c->user_id), DB_TEXT(h)};
        err = db_query(e->db, "INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)", ins, 2, NULL);
        json_array_append_new(codes, json_string(codebuf));
    }
    if (!err)
        err = db_commit(e->db);
    if (err) {
        db_rollback(e->db);
        json_decref(codes);
        return err;
    }
    accounts_user_changed(e, c->user_id);
    audit_write(e->db, "totp.enable", c->user_id, c->user_id, c->org_id, e->ip, NULL);
    *out = json_pack("{s:b,s:o}", "totp_enabled", 1, "recovery_codes", codes);
    return DP_OK;
}

int accounts_totp_disable(struct context *e, const struct caller *c, const char *password, const char *code)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT password_hash, totp_enabled, totp_secret, totp_last_step FROM users WHERE id = ?",
                       p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    int enabled = (int)db_rows_int(r, 0, 1);
    int ok = password_verify(db_rows_text(r, 0, 0), password ? password : "") && enabled &&
             check_second_factor(e, c->user_id, db_rows_text(r, 0, 2), db_rows_int(r, 0, 3), code);
    db_rows_free(r);
    if (!enabled)
        return DP_ERR_CONFLICT;
    if (!ok)
        return DP_ERR_UNPROCESSABLE;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val q[] = {DB_TEXT(now), DB_TEXT(c->user_id)};
    err = db_query(
        e->db, "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = 0, updated_at = ? WHERE id = ?",
        q, 2, NULL);
    if (!err)
        err = db_query(e->db, "DELETE FROM recovery_codes WHERE user_id = ?", p, 1, NULL);
    if (!err) {
        accounts_user_changed(e, c->user_id);
        audit_write(e->db, "totp.disable", c->user_id, c->user_id, c->org_id, e->ip, NULL);
    }
    return err;
}

void accounts_user_scope(const char *user_id, char *out)
{
    cache_gen_scope(out, "user", user_id);
}

int accounts_user_json_cached(struct context *e, const char *user_id, char **out, size_t *len)
{
    char key[CACHE_GEN_SCOPE_MAX + 32], scope[CACHE_GEN_SCOPE_MAX];
    const char *scopes[] = {scope};
    accounts_user_scope(user_id, scope);
    snprintf(key, sizeof key, "user-json:%s", user_id);
    /* The generation is read before the database, so a change in between is never kept. */
    int cacheable = !cache_gen_stamp(e->cache, scopes, 1, key, sizeof key);
    if (cacheable && !cache_get(e->cache, key, out, len))
        return DP_OK;
    if (!e->db)
        return DP_ERR_WOULDBLOCK;
    json_t *u;
    int err = accounts_user_json(e->db, user_id, &u);
    if (err)
        return err;
    *out = json_dumps(u, JSON_COMPACT);
    json_decref(u);
    if (!*out)
        return DP_ERR_NOMEM;
    *len = strlen(*out);
    if (cacheable)
        cache_set(e->cache, key, *out, *len, 60000);
    return DP_OK;
}

void accounts_user_changed(struct context *e, const char *user_id)
{
    char scope[CACHE_GEN_SCOPE_MAX];
    accounts_user_scope(user_id, scope);
    cache_gen_bump(e->cache, scope);
}

int accounts_count_sessions(struct db *db, int64_t *n)
{
    return db_int(db, "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL", NULL, 0, n);
}

int accounts_count_users(struct db *db, int64_t *n)
{
    return db_int(db, "SELECT COUNT(*) FROM users", NULL, 0, n);
}

int accounts_count_orgs(struct db *db, int64_t *n)
{
    return db_int(db, "SELECT COUNT(*) FROM orgs", NULL, 0, n);
}
