/* Organisations: namespaces whose data never crosses. Admins manage all; members see theirs. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "auth/audit.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

#define ORG_NAME_MAX 100

static json_t *org_from_row(const struct db_rows *r, int i)
{
    return json_pack("{s:s,s:s,s:s}", "id", db_rows_text(r, i, 0), "name", db_rows_text(r, i, 1), "created_at",
                     db_rows_text(r, i, 2));
}

/* The org, if the caller may see it (admins all, others their own); else DP_ERR_NOT_FOUND. */
static int load_org(struct db *db, const struct caller *c, const char *id, json_t **out)
{
    if (!id || strlen(id) >= ID_LEN || (c->role != ROLE_ADMIN && strcmp(c->org_id, id)))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT id, name, created_at FROM orgs WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err && out)
        *out = org_from_row(r, 0);
    db_rows_free(r);
    return err;
}

static int valid_name(struct request *req, struct response *res, const char **name)
{
    int err = api_body_str(req, res, "name", 1024, name);
    if (err)
        return err;
    if (!*name || !display_name_valid(*name) || strlen(*name) > ORG_NAME_MAX) {
        res_error(res, req, DP_ERR_INVALID, "name must be 1 to %d characters", ORG_NAME_MAX);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

static int list_orgs(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    int err = api_env(req, &e);
    if (err)
        return err;
    int admin = c->role == ROLE_ADMIN;
    struct db_val p[] = {DB_TEXT(c->org_id)};
    return api_list_page(req, res, e.db,
                         admin ? "SELECT id, name, created_at FROM orgs WHERE 1 = 1"
                               : "SELECT id, name, created_at FROM orgs WHERE id = ?",
                         "id", 0, p, admin ? 0 : 1, org_from_row);
}

static int create_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "creating organisations needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct auth_env e;
    const char *name;
    int err = api_env(req, &e);
    if (err || (err = valid_name(req, res, &name)))
        return err;
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(name), DB_TEXT(now)};
    if ((err = db_query(e.db, "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)", p, 3, NULL)))
        return err;
    audit_write(e.db, "org.create", c->user_id, id, id, e.ip, json_pack("{s:s}", "name", name));
    res_json(res, 201, json_pack("{s:s,s:s,s:s}", "id", id, "name", name, "created_at", now));
    return DP_OK;
}

static int get_org(struct request *req, struct response *res)
{
    struct auth_env e;
    json_t *org;
    int err = api_env(req, &e);
    if (err || (err = load_org(e.db, api_caller(req), req_param(req, "id"), &org)))
        return err;
    res_json(res, 200, org);
    return DP_OK;
}

static int patch_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct auth_env e;
    const char *name;
    int err = api_env(req, &e);
    if (err || (err = load_org(e.db, c, id, NULL)))
        return err;
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "renaming an organisation needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    if ((err = valid_name(req, res, &name)))
        return err;
    struct db_val p[] = {DB_TEXT(name), DB_TEXT(id)};
    if ((err = db_query(e.db, "UPDATE orgs SET name = ? WHERE id = ?", p, 2, NULL)))
        return err;
    audit_write(e.db, "org.update", c->user_id, id, id, e.ip, json_pack("{s:s}", "name", name));
    json_t *org;
    if ((err = load_org(e.db, c, id, &org)))
        return err;
    res_json(res, 200, org);
    return DP_OK;
}

static int delete_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct auth_env e;
    int err = api_env(req, &e);
    if (err || (err = load_org(e.db, c, id, NULL)))
        return err;
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "deleting an organisation needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    if (!strcmp(id, "default")) {
        res_error(res, req, DP_ERR_CONFLICT, "the default organisation cannot be deleted");
        return DP_ERR_CONFLICT;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    if ((err = db_query(e.db, "SELECT COUNT(*) FROM users WHERE org_id = ?", p, 1, &r)))
        return err;
    int64_t n = db_rows_int(r, 0, 0);
    db_rows_free(r);
    if (n) {
        res_error(res, req, DP_ERR_CONFLICT, "the organisation still has %lld user(s); move or delete them first",
                  (long long)n);
        return DP_ERR_CONFLICT;
    }
    if ((err = db_query(e.db, "DELETE FROM orgs WHERE id = ?", p, 1, NULL)))
        return err;
    audit_write(e.db, "org.delete", c->user_id, id, id, e.ip, NULL);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static json_t *audit_from_row(const struct db_rows *r, int i)
{
    const char *d = db_rows_text(r, i, 7);
    json_t *detail = d ? json_loads(d, 0, NULL) : NULL;
    return json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o}", "id", db_rows_text(r, i, 0), "at", db_rows_text(r, i, 1),
                     "action", db_rows_text(r, i, 2), "actor_id", db_rows_text(r, i, 3), "target_id",
                     db_rows_text(r, i, 4), "org_id", db_rows_text(r, i, 5), "ip", db_rows_text(r, i, 6), "detail",
                     detail ? detail : json_null());
}

static int list_audit(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "the audit log needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct auth_env e;
    const char *action = req_query(req, "action");
    int err = api_env(req, &e);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(action)};
    /* Newest first: ids are UUIDv7, so id order is time order. */
    return api_list_page(req, res, e.db,
                         action ? "SELECT id, at, action, actor_id, target_id, org_id, ip, detail FROM audit_log "
                                  "WHERE action = ?"
                                : "SELECT id, at, action, actor_id, target_id, org_id, ip, detail FROM audit_log "
                                  "WHERE 1 = 1",
                         "id", 1, p, action ? 1 : 0, audit_from_row);
}

const struct route orgs_routes[] = {
    {"GET", "/api/v1/orgs", 0, 0, list_orgs, "orgs", "Organisations the caller may see", NULL, NULL, NULL},
    {"POST", "/api/v1/orgs", ROUTE_JSON, 0, create_org, "orgs", "Create an organisation {name} (admin)", NULL, NULL, NULL},
    {"GET", "/api/v1/orgs/{id}", 0, 0, get_org, "orgs", "Get an organisation", NULL, NULL, NULL},
    {"PATCH", "/api/v1/orgs/{id}", ROUTE_JSON, 0, patch_org, "orgs", "Rename an organisation {name}", NULL, NULL, NULL},
    {"DELETE", "/api/v1/orgs/{id}", 0, 0, delete_org, "orgs", "Delete an empty organisation (admin)", NULL, NULL, NULL},
    {"GET", "/api/v1/admin/audit", 0, 0, list_audit, "admin", "Audit log, newest first (admin; ?action=)", NULL, NULL, NULL},
    {0},
};
