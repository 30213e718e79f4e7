/* Users as administered (see users.h). */
#include "auth/users.h"

#include <stdio.h>
#include <string.h>

#include "auth/password.h"
#include "auth/settings.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "store/db_read.h"

int users_list(struct db *db, const char *org, const char *after, long limit, json_t **items)
{
    struct db_val p[] = {DB_TEXT(org)};
    return db_page(db,
                   org ? "SELECT " ACCOUNTS_USER_COLUMNS " FROM users WHERE org_id = ?"
                       : "SELECT " ACCOUNTS_USER_COLUMNS " FROM users WHERE 1 = 1",
                   "id", 0, p, org ? 1 : 0, after, limit, accounts_user_from_row, items);
}

int users_target(struct db *db, const struct caller *c, const char *id, char org[ID_LEN], enum role *role)
{
    if (!id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT org_id, role FROM users WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    snprintf(org, ID_LEN, "%s", db_rows_text(r, 0, 0));
    *role = (enum role)role_parse(db_rows_text(r, 0, 1));
    db_rows_free(r);
    if (strcmp(c->user_id, id) && !caller_can_manage(c, org, *role))
        return DP_ERR_NOT_FOUND;
    return DP_OK;
}

int users_password_matches(struct db *db, const char *id, const char *password)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    if (!password || db_query(db, "SELECT password_hash FROM users WHERE id = ?", p, 1, &r))
        return 0;
    int ok = r->nrows == 1 && password_verify(db_rows_text(r, 0, 0), password);
    db_rows_free(r);
    return ok;
}

/* 1 when removing admin rights from user id would leave the instance without an admin. */
static int last_admin(struct db *db, const char *id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    if (db_query(db, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND id <> ?", p, 1, &r))
        return 1;
    int none = db_rows_int(r, 0, 0) == 0;
    db_rows_free(r);
    return none;
}

/* Runs sql (an UPDATE or DELETE of user id) in a transaction, keeping the last admin. */
static int admin_guarded(struct db *db, const char *id, int removes_admin, const char *sql, const struct db_val *p,
                         int np)
{
    int err = db_begin(db);
    if (!err && removes_admin && !(err = db_xact_lock(db, ACCOUNTS_LOCK_USERS)) && last_admin(db, id))
        err = DP_ERR_CONFLICT;
    if (!err)
        err = db_query(db, sql, p, np, NULL);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    return err;
}

int users_update(struct db *db, const char *id, const struct users_change *ch, int removes_admin)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct buf sql;
    buf_init(&sql, 0);
    struct db_val p[6];
    int np = 0;
    buf_printf(&sql, "UPDATE users SET updated_at = ?");
    p[np++] = DB_TEXT(now);
    if (ch->display_name)
        buf_printf(&sql, ", display_name = ?"), p[np++] = DB_TEXT(ch->display_name);
    if (ch->password_hash)
        buf_printf(&sql, ", password_hash = ?"), p[np++] = DB_TEXT(ch->password_hash);
    if (ch->role)
        buf_printf(&sql, ", role = ?"), p[np++] = DB_TEXT(ch->role);
    if (ch->org_id)
        buf_printf(&sql, ", org_id = ?"), p[np++] = DB_TEXT(ch->org_id);
    buf_printf(&sql, " WHERE id = ?");
    p[np++] = DB_TEXT(id);
    int err = sql.data ? admin_guarded(db, id, removes_admin, sql.data, p, np) : DP_ERR_NOMEM;
    buf_cleanup(&sql);
    return err;
}

int users_delete(struct context *e, const char *id, int removes_admin)
{
    struct db_val p[] = {DB_TEXT(id)};
    struct db_rows *sids;
    int err = db_query(e->db, "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", p, 1, &sids);
    if (err)
        return err;
    err = admin_guarded(e->db, id, removes_admin, "DELETE FROM users WHERE id = ?", p, 1);
    if (!err) /* the rows went with the user (cascade); every instance must stop their tokens */
        for (int i = 0; i < sids->nrows; i++)
            accounts_mark_session_revoked(e, id, db_rows_text(sids, i, 0));
    db_rows_free(sids);
    return err;
}

int users_search(struct db *db, const struct caller *c, const char *q, json_t **items)
{
    /* A LIKE pattern with the user's % and _ escaped. */
    char pattern[2 * 100 + 3];
    size_t at = 0, n = strlen(q);
    if (n < 2 || n > 100)
        return DP_ERR_INVALID;
    pattern[at++] = '%';
    for (const char *s = q; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            pattern[at++] = '\\';
        pattern[at++] = *s;
    }
    pattern[at++] = '%';
    pattern[at] = 0;
    /* Who the caller may find: people of their org — by name only when it is not the open
     * default org every stranger signs up into — and people an avatar is shared between (either
     * way); by an exact address (any case), never a part of one, so that no one can list
     * addresses letter by letter. */
    char email[EMAIL_MAX + 1];
    int by_email = email_normalize(q, email, sizeof email) == DP_OK;
    int org_by_name = !(auth_cfg.signup_org_default && auth_cfg.signup_open && !strcmp(c->org_id, "default"));
#define SHARED_WITH_CALLER                                                                                             \
    "EXISTS (SELECT 1 FROM avatar_shares s JOIN avatars a ON a.id = s.avatar_id WHERE a.deleted_at IS NULL AND "       \
    "((a.owner_id = ? AND s.user_id = u.id) OR (a.owner_id = u.id AND s.user_id = ?)))"
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id), DB_TEXT(by_email ? email : NULL),
                         DB_TEXT(c->org_id),  DB_TEXT(c->user_id),
                         DB_TEXT(c->user_id), DB_TEXT(pattern),
                         DB_INT(org_by_name), DB_TEXT(c->org_id),
                         DB_TEXT(c->user_id), DB_TEXT(c->user_id)};
    int err =
        db_query(db,
                 "SELECT u.id, u.display_name FROM users u WHERE u.id <> ? AND ("
                 "(u.email = ? AND (u.org_id = ? OR " SHARED_WITH_CALLER ")) OR "
                 "(lower(u.display_name) LIKE lower(?) ESCAPE '\\' AND ((? = 1 AND u.org_id = ?) OR " SHARED_WITH_CALLER
                 "))) ORDER BY u.display_name LIMIT 20",
                 p, 10, &r);
#undef SHARED_WITH_CALLER
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(
            *items, json_pack("{s:s,s:s}", "id", db_rows_text(r, i, 0), "display_name", db_rows_text(r, i, 1)));
    db_rows_free(r);
    return DP_OK;
}
