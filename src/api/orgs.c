/* Organisations routes (the rules are auth/orgs.c's), and the audit log. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "auth/orgs.h"
#include "core/err.h"

static int valid_name(struct request *req, struct response *res, const char **name)
{
    int err = api_body_str(req, res, "name", 1024, name);
    if (err)
        return err;
    if (!orgs_name_valid(*name)) {
        res_error(res, req, DP_ERR_INVALID, "name must be 1 to %d characters", ORG_NAME_MAX);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

static int list_of_caller(struct db *db, const void *caller, const char *after, long limit, json_t **items)
{
    return orgs_list(db, caller, after, limit, items);
}

static int list_orgs(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    return err ? err : api_list_page(req, res, e.db, list_of_caller, api_caller(req));
}

static int create_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "creating organisations needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
    const char *name;
    json_t *org;
    int err = api_env(req, &e);
    if (err || (err = valid_name(req, res, &name)) || (err = orgs_create(e.db, name, &org)))
        return err;
    const char *id = json_string_value(json_object_get(org, "id"));
    audit_write(e.db, "org.create", c->user_id, id, id, e.ip, json_pack("{s:s}", "name", name));
    res_json(res, 201, org);
    return DP_OK;
}

static int get_org(struct request *req, struct response *res)
{
    struct context e;
    json_t *org;
    int err = api_env(req, &e);
    if (err || (err = orgs_get(e.db, api_caller(req), req_param(req, "id"), &org)))
        return err;
    res_json(res, 200, org);
    return DP_OK;
}

static int patch_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct context e;
    const char *name;
    int err = api_env(req, &e);
    if (err || (err = orgs_get(e.db, c, id, NULL)))
        return err;
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "renaming an organisation needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    if ((err = valid_name(req, res, &name)) || (err = orgs_rename(e.db, id, name)))
        return err;
    audit_write(e.db, "org.update", c->user_id, id, id, e.ip, json_pack("{s:s}", "name", name));
    json_t *org;
    if ((err = orgs_get(e.db, c, id, &org)))
        return err;
    res_json(res, 200, org);
    return DP_OK;
}

static int delete_org(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct context e;
    long long users;
    int err = api_env(req, &e);
    if (err || (err = orgs_get(e.db, c, id, NULL)))
        return err;
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "deleting an organisation needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    err = orgs_delete(e.db, id, &users);
    if (err == DP_ERR_CONFLICT && !users)
        res_error(res, req, err, "the default organisation cannot be deleted");
    else if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "the organisation still has %lld user(s); move or delete them first", users);
    if (err)
        return err;
    audit_write(e.db, "org.delete", c->user_id, id, id, e.ip, NULL);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static int list_of_action(struct db *db, const void *action, const char *before, long limit, json_t **items)
{
    return audit_list(db, action, before, limit, items);
}

static int list_audit(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "the audit log needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
    int err = api_env(req, &e);
    return err ? err : api_list_page(req, res, e.db, list_of_action, req_query(req, "action"));
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char list_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Org>"}});
static const char create_doc[] =
    J({"requestBody" : "OrgBody", "responses" : {"201" : "Org"}, "errors" : [ 403, 409, 422 ]});
static const char get_doc[] = J({"responses" : {"200" : "Org"}});
static const char patch_doc[] =
    J({"requestBody" : "OrgBody", "responses" : {"200" : "Org"}, "errors" : [ 403, 409, 422 ]});
static const char delete_doc[] = J({"responses" : {"204" : "-"}, "errors" : [ 403, 409 ]});
static const char audit_doc[] = J({
    "query" : {"action" : {"type" : "string", "description" : "only this action, e.g. user.create"}},
    "paged" : true,
    "responses" : {"200" : "Page<AuditEntry>"},
    "errors" : [403]
});

const struct route orgs_routes[] = {
    {"GET", "/api/v1/orgs", 0, 0, list_orgs, "orgs", "Organisations the caller may see", list_doc, NULL, NULL},
    {"POST", "/api/v1/orgs", ROUTE_JSON, 0, create_org, "orgs", "Create an organisation {name} (admin)", create_doc,
     NULL, NULL},
    {"GET", "/api/v1/orgs/{id}", 0, 0, get_org, "orgs", "Get an organisation", get_doc, NULL, NULL},
    {"PATCH", "/api/v1/orgs/{id}", ROUTE_JSON, 0, patch_org, "orgs", "Rename an organisation {name}", patch_doc, NULL,
     NULL},
    {"DELETE", "/api/v1/orgs/{id}", 0, 0, delete_org, "orgs", "Delete an empty organisation (admin)", delete_doc, NULL,
     NULL},
    {"GET", "/api/v1/admin/audit", 0, 0, list_audit, "admin", "Audit log, newest first (admin; ?action=)", audit_doc,
     NULL, NULL},
    {0},
};
