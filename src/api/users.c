/* Users routes: list, create, read, update, delete, search — admins everywhere, managers in
 * their organisation, members only themselves (and search within their organisation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "auth/audit.h"
#include "auth/password.h"
#include "auth/settings.h"
#include "avatar/media.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

/* Loads the target's org and role; DP_ERR_NOT_FOUND also when the caller may not see it. */
static int load_target(struct auth_env *e, const struct caller *c, const char *id, char org[ID_LEN], enum role *role)
{
    if (!id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(e->db, "SELECT org_id, role FROM users WHERE id = ?", p, 1, &r);
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

static int list_users(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "listing users needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct auth_env e;
    int err = api_env(req, &e);
    if (err)
        return err;
    const char *org = c->role == ROLE_ADMIN ? req_query(req, "org_id") : c->org_id;
    struct db_val p[] = {DB_TEXT(org)};
    return api_list_page(req, res, e.db,
                         org ? "SELECT " ACCOUNTS_USER_COLUMNS " FROM users WHERE org_id = ?"
                             : "SELECT " ACCOUNTS_USER_COLUMNS " FROM users WHERE 1 = 1",
                         "id", 0, p, org ? 1 : 0, accounts_user_from_row);
}

static int create_user(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "creating users needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct auth_env e;
    int err = api_env(req, &e);
    const char *email, *password, *name, *role_s, *org;
    if (err || (err = api_body_str(req, res, "email", EMAIL_MAX + 64, &email)) ||
        (err = api_body_str(req, res, "password", 4096, &password)) ||
        (err = api_body_str(req, res, "display_name", 1024, &name)) ||
        (err = api_body_str(req, res, "role", 16, &role_s)) || (err = api_body_str(req, res, "org_id", 64, &org)))
        return err;
    if (!email || !password) {
        res_error(res, req, DP_ERR_INVALID, "email and password are required");
        return DP_ERR_INVALID;
    }
    int role = role_s ? role_parse(role_s) : ROLE_MEMBER;
    if (role < 0) {
        res_error(res, req, DP_ERR_INVALID, "role must be admin, manager or member");
        return DP_ERR_INVALID;
    }
    if (!org)
        org = c->org_id;
    if (!caller_can_manage(c, org, (enum role)role)) {
        res_error(res, req, DP_ERR_FORBIDDEN, "managers create members and managers of their own organisation");
        return DP_ERR_FORBIDDEN;
    }
    json_t *user;
    char msg[160] = "";
    if ((err = accounts_create_user(&e, email, password, name, org, role, &user, msg, sizeof msg))) {
        res_error(res, req, err, "%s", *msg ? msg : dp_strerror(err));
        return err;
    }
    audit_write(e.db, "user.add", c->user_id, json_string_value(json_object_get(user, "id")), org, e.ip,
                json_pack("{s:s}", "role", role_name((enum role)role)));
    res_json(res, 201, user);
    return DP_OK;
}

static int get_user(struct request *req, struct response *res)
{
    struct auth_env e;
    char org[ID_LEN];
    enum role role;
    int err = api_env(req, &e);
    if (err || (err = load_target(&e, api_caller(req), req_param(req, "id"), org, &role)))
        return err;
    json_t *u;
    if ((err = accounts_user_json(e.db, req_param(req, "id"), &u)))
        return err;
    res_json(res, 200, u);
    return DP_OK;
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

/* Runs sql (an UPDATE or DELETE of user id) in a transaction; when it removes an admin, first
 * checks under the users lock that another admin remains (DP_ERR_CONFLICT otherwise), so two
 * admins demoting each other at once cannot leave the instance without one. */
static int admin_guarded(struct auth_env *e, const char *id, int removes_admin, const char *sql,
                         const struct db_val *p, int np)
{
    int err = db_begin(e->db);
    if (!err && removes_admin && !(err = db_xact_lock(e->db, ACCOUNTS_LOCK_USERS)) && last_admin(e->db, id))
        err = DP_ERR_CONFLICT;
    if (!err)
        err = db_query(e->db, sql, p, np, NULL);
    if (!err)
        err = db_commit(e->db);
    if (err)
        db_rollback(e->db);
    return err;
}

static int patch_user(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct auth_env e;
    char org[ID_LEN];
    enum role role;
    int err = api_env(req, &e);
    if (err || (err = load_target(&e, c, id, org, &role)))
        return err;
    const char *name, *password, *current, *role_s, *new_org;
    if ((err = api_body_str(req, res, "display_name", 1024, &name)) ||
        (err = api_body_str(req, res, "password", 4096, &password)) ||
        (err = api_body_str(req, res, "current_password", 4096, &current)) ||
        (err = api_body_str(req, res, "role", 16, &role_s)) || (err = api_body_str(req, res, "org_id", 64, &new_org)))
        return err;
    int self = !strcmp(c->user_id, id), manage = caller_can_manage(c, org, role);
    int new_role = role_s ? role_parse(role_s) : (int)role;
    /* Validate everything before changing anything. */
    if (name && !display_name_valid(name)) {
        res_error(res, req, DP_ERR_INVALID, "display_name must be 1 to %d characters", DISPLAY_NAME_MAX);
        return DP_ERR_INVALID;
    }
    if (password && password_check_policy(password)) {
        res_error(res, req, DP_ERR_INVALID, "password must be %d to %d bytes", PASSWORD_MIN, PASSWORD_MAX);
        return DP_ERR_INVALID;
    }
    if (new_role < 0) {
        res_error(res, req, DP_ERR_INVALID, "role must be admin, manager or member");
        return DP_ERR_INVALID;
    }
    if ((role_s && new_role != (int)role && (!manage || !caller_can_manage(c, org, (enum role)new_role))) ||
        (new_org && strcmp(new_org, org) && c->role != ROLE_ADMIN)) {
        res_error(res, req, DP_ERR_FORBIDDEN, "your role may not make this change");
        return DP_ERR_FORBIDDEN;
    }
    char hash[PASSWORD_HASH_LEN];
    if (password) {
        /* Changing one's own password always needs the current one: a stolen access token
         * must not be enough to keep the account. */
        if (self) {
            struct db_rows *r;
            struct db_val p[] = {DB_TEXT(id)};
            if ((err = db_query(e.db, "SELECT password_hash FROM users WHERE id = ?", p, 1, &r)))
                return err;
            int ok = r->nrows == 1 && current && password_verify(db_rows_text(r, 0, 0), current);
            db_rows_free(r);
            if (!ok) {
                res_error(res, req, DP_ERR_UNPROCESSABLE, "current_password is wrong");
                return DP_ERR_UNPROCESSABLE;
            }
        }
        if ((err = password_hash(password, hash)))
            return err;
    }
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct buf sql;
    buf_init(&sql, 0);
    struct db_val p[6];
    int np = 0;
    buf_printf(&sql, "UPDATE users SET updated_at = ?");
    p[np++] = DB_TEXT(now);
    if (name)
        buf_printf(&sql, ", display_name = ?"), p[np++] = DB_TEXT(name);
    if (password)
        buf_printf(&sql, ", password_hash = ?"), p[np++] = DB_TEXT(hash);
    if (role_s)
        buf_printf(&sql, ", role = ?"), p[np++] = DB_TEXT(role_name((enum role)new_role));
    if (new_org)
        buf_printf(&sql, ", org_id = ?"), p[np++] = DB_TEXT(new_org);
    buf_printf(&sql, " WHERE id = ?");
    p[np++] = DB_TEXT(id);
    int demoting = role == ROLE_ADMIN && new_role != ROLE_ADMIN;
    err = admin_guarded(&e, id, demoting, sql.data, p, np);
    buf_cleanup(&sql);
    if (err == DP_ERR_CONFLICT && demoting) {
        res_error(res, req, DP_ERR_CONFLICT, "this is the last admin; promote another user first");
        return err;
    }
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, DP_ERR_UNPROCESSABLE, "no such organisation");
        return DP_ERR_UNPROCESSABLE;
    }
    if (err)
        return err;
    accounts_user_changed(&e, id);
    /* Tokens carry role and org, and a new password ends old logins: revoke the sessions. */
    int changed_role = role_s && new_role != (int)role, changed_org = new_org && strcmp(new_org, org);
    if (changed_role || changed_org || password)
        accounts_revoke_user_sessions(&e, id, password ? "password_change" : "role_change");
    if (changed_role)
        audit_write(e.db, "user.role_change", c->user_id, id, org, e.ip,
                    json_pack("{s:s,s:s}", "from", role_name(role), "to", role_name((enum role)new_role)));
    if (changed_org)
        audit_write(e.db, "user.org_change", c->user_id, id, new_org, e.ip, json_pack("{s:s,s:s}", "from", org, "to", new_org));
    if (password)
        audit_write(e.db, "user.password_change", c->user_id, id, org, e.ip, NULL);
    json_t *u;
    if ((err = accounts_user_json(e.db, id, &u)))
        return err;
    res_json(res, 200, u);
    return DP_OK;
}

static int delete_user(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct auth_env e;
    char org[ID_LEN];
    enum role role;
    int err = api_env(req, &e);
    if (err || (err = load_target(&e, c, id, org, &role)))
        return err;
    if (!caller_can_manage(c, org, role) && strcmp(c->user_id, id)) {
        res_error(res, req, DP_ERR_FORBIDDEN, "your role may not delete this user");
        return DP_ERR_FORBIDDEN;
    }
    struct db_val p[] = {DB_TEXT(id)};
    struct db_rows *sids;
    if ((err = db_query(e.db, "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", p, 1, &sids)))
        return err;
    /* Their avatars (and media rows) go with the user by cascade; the blobs are released after. */
    struct db_val p2[] = {DB_TEXT(id), DB_TEXT(id)};
    struct db_rows *blobs = NULL;
    if ((err = db_query(e.db,
                        "SELECT m.blob_key FROM media m JOIN avatars a ON a.id = m.avatar_id WHERE a.owner_id = ? "
                        "UNION SELECT d.blob_key FROM media_derived d JOIN media m ON m.id = d.media_id JOIN avatars a "
                        "ON a.id = m.avatar_id WHERE a.owner_id = ?",
                        p2, 2, &blobs))) {
        db_rows_free(sids);
        return err;
    }
    err = admin_guarded(&e, id, role == ROLE_ADMIN, "DELETE FROM users WHERE id = ?", p, 1);
    for (int i = 0; !err && i < blobs->nrows; i++)
        media_release_blob(e.db, app_get()->blobs, db_rows_text(blobs, i, 0));
    db_rows_free(blobs);
    if (!err) /* the rows went with the user (cascade); every instance must stop their tokens */
        for (int i = 0; i < sids->nrows; i++)
            accounts_mark_session_revoked(&e, db_rows_text(sids, i, 0));
    db_rows_free(sids);
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, DP_ERR_CONFLICT, "this is the last admin; promote another user first");
        return err;
    }
    if (err)
        return err;
    accounts_user_changed(&e, id);
    audit_write(e.db, "user.delete", c->user_id, id, org, e.ip, NULL);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static int search_users(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *q = req_query(req, "q");
    size_t n = q ? strlen(q) : 0;
    if (n < 2 || n > 100) {
        res_error(res, req, DP_ERR_INVALID, "q must be 2 to 100 characters");
        return DP_ERR_INVALID;
    }
    struct auth_env e;
    int err = api_env(req, &e);
    if (err)
        return err;
    /* A LIKE pattern with the user's % and _ escaped. */
    char pattern[2 * 100 + 3];
    size_t at = 0;
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
#define SHARED_WITH_CALLER                                                                                            \
    "EXISTS (SELECT 1 FROM avatar_shares s JOIN avatars a ON a.id = s.avatar_id WHERE a.deleted_at IS NULL AND "     \
    "((a.owner_id = ? AND s.user_id = u.id) OR (a.owner_id = u.id AND s.user_id = ?)))"
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c->user_id),
                         DB_TEXT(by_email ? email : NULL), DB_TEXT(c->org_id), DB_TEXT(c->user_id), DB_TEXT(c->user_id),
                         DB_TEXT(pattern), DB_INT(org_by_name), DB_TEXT(c->org_id), DB_TEXT(c->user_id),
                         DB_TEXT(c->user_id)};
    err = db_query(e.db,
                   "SELECT u.id, u.display_name FROM users u WHERE u.id <> ? AND ("
                   "(u.email = ? AND (u.org_id = ? OR " SHARED_WITH_CALLER ")) OR "
                   "(lower(u.display_name) LIKE lower(?) ESCAPE '\\' AND ((? = 1 AND u.org_id = ?) OR " SHARED_WITH_CALLER
                   "))) ORDER BY u.display_name LIMIT 20",
                   p, 10, &r);
#undef SHARED_WITH_CALLER
    if (err)
        return err;
    json_t *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(items, json_pack("{s:s,s:s}", "id", db_rows_text(r, i, 0), "display_name",
                                               db_rows_text(r, i, 1)));
    db_rows_free(r);
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

const struct route users_routes[] = {
    {"GET", "/api/v1/users/search", 0, 0, search_users, "users", "Find people to message: by name (same organisation, or an avatar shared between you) or exact e-mail", NULL,
     NULL, NULL},
    {"GET", "/api/v1/users", 0, 0, list_users, "users", "List users (admin: all or ?org_id=; manager: own org)", NULL,
     NULL, NULL},
    {"POST", "/api/v1/users", ROUTE_JSON, 0, create_user, "users",
     "Create a user {email,password,display_name?,role?,org_id?}", NULL, NULL, NULL},
    {"GET", "/api/v1/users/{id}", 0, 0, get_user, "users", "Get a user (self, or managed by the caller)", NULL, NULL, NULL},
    {"PATCH", "/api/v1/users/{id}", ROUTE_JSON, 0, patch_user, "users",
     "Update {display_name?, password?, current_password?, role?, org_id?}", NULL, NULL, NULL},
    {"DELETE", "/api/v1/users/{id}", 0, 0, delete_user, "users", "Delete a user", NULL, NULL, NULL},
    {0},
};
