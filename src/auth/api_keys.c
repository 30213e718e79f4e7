/* API keys of the OpenAI-compatible facade (see api_keys.h). */
#include "auth/api_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "auth/secret.h"
#include "core/context.h"
#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "store/cache.h"
#include "store/db.h"

#define PREFIX_SHOWN 12          /* "sk-dp-" and six characters of the secret */
#define LOOKUP_TTL_MS 60000      /* how long a key's owner is remembered (a role change shows after it) */
#define KEY_MAX (6 + SECRET_LEN) /* longest key looked up at all */

int api_key_like(const char *token)
{
    return token && !strncmp(token, API_KEY_PREFIX, strlen(API_KEY_PREFIX));
}

/* The stored list of avatars a key reaches (column text, or NULL: all) as JSON (owned). */
static json_t *avatars_json(const char *stored)
{
    json_t *a = stored ? json_loads(stored, 0, NULL) : NULL;
    if (json_is_array(a))
        return a;
    json_decref(a);
    return json_null();
}

static json_t *key_from_row(const struct db_rows *r, int i)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s?}", "id", db_rows_text(r, i, 0), "name", db_rows_text(r, i, 1), "prefix",
                     db_rows_text(r, i, 2), "avatars",
                     avatars_json(db_rows_is_null(r, i, 5) ? NULL : db_rows_text(r, i, 5)), "created_at",
                     db_rows_text(r, i, 3), "last_used_at", db_rows_is_null(r, i, 4) ? NULL : db_rows_text(r, i, 4));
}

/* 1 when avatars is a list of 1 to API_KEY_AVATARS_MAX distinct avatar ids. */
static int avatars_valid(json_t *avatars)
{
    size_t n = json_array_size(avatars);
    if (!json_is_array(avatars) || n < 1 || n > API_KEY_AVATARS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(avatars, i));
        if (!id || !id_valid(id))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(id, json_string_value(json_array_get(avatars, j))))
                return 0;
    }
    return 1;
}

/* Stores a new key of c (its session first) reaching scope (stored JSON, NULL: all). */
static int insert_key(struct context *e, const struct caller *c, const char *name, const char *scope, json_t **out)
{
    char secret[SECRET_LEN], key[KEY_MAX], hash[SECRET_HASH_LEN], id[ID_LEN], sid[ID_LEN], now[RFC3339_LEN],
        prefix[PREFIX_SHOWN + 1], agent[API_KEY_NAME_MAX + 16];
    secret_new(secret, hash);
    snprintf(key, sizeof key, API_KEY_PREFIX "%s", secret);
    secret_hash(key, hash); /* the whole key is what is presented */
    memcpy(prefix, key, PREFIX_SHOWN);
    prefix[PREFIX_SHOWN] = 0;
    id_new(id);
    id_new(sid);
    time_rfc3339(time_now_ms(), now);
    snprintf(agent, sizeof agent, "API key %s", name);
    struct db_val s[] = {DB_TEXT(sid), DB_TEXT(c->user_id), DB_TEXT(now), DB_TEXT(now), DB_TEXT(e->ip), DB_TEXT(agent)};
    struct db_val k[] = {DB_TEXT(id),
                         DB_TEXT(c->user_id),
                         DB_TEXT(sid),
                         DB_TEXT(name),
                         DB_TEXT(prefix),
                         DB_TEXT(hash),
                         scope ? DB_TEXT(scope) : DB_NULL,
                         DB_TEXT(now)};
    int err = db_begin(e->db);
    if (err)
        return err;
    err = db_query(
        e->db, "INSERT INTO sessions (id, user_id, created_at, last_used_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
        s, 6, NULL);
    if (!err)
        err = db_query(e->db,
                       "INSERT INTO api_keys (id, user_id, session_id, name, prefix, hash, avatars, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       k, 8, NULL);
    if (!err)
        err = db_commit(e->db);
    if (err) {
        db_rollback(e->db);
        return err;
    }
    *out = json_pack("{s:s,s:s,s:s,s:o,s:s,s:n,s:s}", "id", id, "name", name, "prefix", prefix, "avatars",
                     avatars_json(scope), "created_at", now, "last_used_at", "key", key);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(key, sizeof key);
    return *out ? DP_OK : DP_ERR_NOMEM;
}

int api_keys_create(struct context *e, const struct caller *c, const char *name, json_t *avatars, json_t **out,
                    char *msg, size_t msglen)
{
    size_t len = strlen(name);
    if (!len || len > API_KEY_NAME_MAX || !utf8_valid(name, len) || strspn(name, " \t\r\n") == len) {
        snprintf(msg, msglen, "name must be 1 to %d bytes of text", API_KEY_NAME_MAX);
        return DP_ERR_INVALID;
    }
    if (avatars && !json_is_null(avatars) && !avatars_valid(avatars)) {
        snprintf(msg, msglen, "avatars must be a list of 1 to %d distinct avatar ids", API_KEY_AVATARS_MAX);
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val u[] = {DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL", u, 1, &r);
    if (err)
        return err;
    int64_t live = db_rows_int(r, 0, 0);
    db_rows_free(r);
    if (live >= API_KEYS_PER_USER) {
        snprintf(msg, msglen, "you hold %d API keys already; revoke one first", API_KEYS_PER_USER);
        return DP_ERR_CONFLICT;
    }
    char *scope = avatars && !json_is_null(avatars) ? json_dumps(avatars, JSON_COMPACT) : NULL;
    if (avatars && !json_is_null(avatars) && !scope)
        return DP_ERR_NOMEM;
    err = insert_key(e, c, name, scope, out);
    free(scope);
    return err;
}

int api_keys_list(struct context *e, const struct caller *c, json_t **items)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id), DB_INT(API_KEYS_PER_USER)};
    int err = db_query(e->db,
                       "SELECT id, name, prefix, created_at, last_used_at, avatars FROM api_keys "
                       "WHERE user_id = ? AND revoked_at IS NULL ORDER BY id DESC LIMIT ?",
                       p, 2, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, key_from_row(r, i));
    db_rows_free(r);
    return DP_OK;
}

int api_keys_revoke(struct context *e, const struct caller *c, const char *id)
{
    if (!id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT session_id FROM api_keys WHERE id = ? AND user_id = ? AND revoked_at IS NULL", p,
                       2, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    char sid[ID_LEN], now[RFC3339_LEN];
    snprintf(sid, sizeof sid, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    time_rfc3339(time_now_ms(), now);
    struct db_val q[] = {DB_TEXT(now), DB_TEXT(id)};
    /* The key's row first: once its session is revoked, no instance lets it in again. */
    err = db_query(e->db, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", q, 2, NULL);
    if (!err)
        err = accounts_revoke_session(e, sid, "api key revoked");
    return err;
}

/* The security cache's entry for a key's hash: "user org role session key". */
static void lookup_key(const char *hash, char out[96])
{
    snprintf(out, 96, "apikey:%s", hash);
}

int api_keys_authenticate(struct context *e, const char *key, struct caller *out)
{
    size_t len = strlen(key);
    if (!api_key_like(key) || len >= KEY_MAX)
        return DP_ERR_UNAUTHORIZED;
    char hash[SECRET_HASH_LEN], ckey[96], role[16] = "", *v = NULL;
    size_t vlen;
    secret_hash(key, hash);
    lookup_key(hash, ckey);
    memset(out, 0, sizeof *out);
    if (!cache_get(e->security, ckey, &v, &vlen)) {
        int ok =
            sscanf(v, "%36s %36s %15s %36s %36s", out->user_id, out->org_id, role, out->session_id, out->key_id) == 5 &&
            role_parse(role) >= 0;
        free(v);
        if (ok) {
            out->role = (enum role)role_parse(role);
            return DP_OK;
        }
    }
    if (!e->db)
        return DP_ERR_WOULDBLOCK;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(hash)};
    int err = db_query(e->db,
                       "SELECT k.id, k.user_id, u.org_id, u.role, k.session_id FROM api_keys k "
                       "JOIN users u ON u.id = k.user_id WHERE k.hash = ? AND k.revoked_at IS NULL",
                       p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1 || role_parse(db_rows_text(r, 0, 3)) < 0) {
        db_rows_free(r);
        return DP_ERR_UNAUTHORIZED;
    }
    char id[ID_LEN], now[RFC3339_LEN], val[200];
    snprintf(id, sizeof id, "%s", db_rows_text(r, 0, 0));
    snprintf(out->key_id, sizeof out->key_id, "%s", id);
    snprintf(out->user_id, sizeof out->user_id, "%s", db_rows_text(r, 0, 1));
    snprintf(out->org_id, sizeof out->org_id, "%s", db_rows_text(r, 0, 2));
    out->role = (enum role)role_parse(db_rows_text(r, 0, 3));
    snprintf(out->session_id, sizeof out->session_id, "%s", db_rows_text(r, 0, 4));
    db_rows_free(r);
    /* A revoked key's lookup may stay cached: its session's revocation mark refuses it. */
    snprintf(val, sizeof val, "%s %s %s %s %s", out->user_id, out->org_id, role_name(out->role), out->session_id,
             out->key_id);
    cache_set(e->security, ckey, val, strlen(val), LOOKUP_TTL_MS);
    time_rfc3339(time_now_ms(), now);
    struct db_val q[] = {DB_TEXT(now), DB_TEXT(id)};
    db_query(e->db, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", q, 2, NULL); /* a note, not a gate */
    return DP_OK;
}

int api_keys_allows(struct context *e, const struct caller *c, const char *avatar_id)
{
    if (!c->key_id[0])
        return 1;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->key_id)};
    if (db_query(e->db, "SELECT avatars FROM api_keys WHERE id = ?", p, 1, &r))
        return 0;
    int ok = r->nrows == 1 && db_rows_is_null(r, 0, 0);
    if (r->nrows == 1 && !ok) {
        json_t *a = avatars_json(db_rows_text(r, 0, 0)), *x;
        size_t i;
        json_array_foreach (a, i, x)
            ok |= !strcmp(json_string_value(x), avatar_id);
        json_decref(a);
    }
    db_rows_free(r);
    return ok;
}
