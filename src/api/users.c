/* Users routes: list, create, read, update, delete, search — admins everywhere, managers in
 * their organisation, members only themselves. The rules are auth/users.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "auth/password.h"
#include "auth/users.h"
#include "avatar/media.h"
#include "core/err.h"

static int list_of_org(struct db *db, const void *org, const char *after, long limit, json_t **items)
{
    return users_list(db, org, after, limit, items);
}

static int list_users(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "listing users needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    return api_list_page(req, res, e.db, list_of_org, c->role == ROLE_ADMIN ? req_query(req, "org_id") : c->org_id);
}

static int create_user(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role == ROLE_MEMBER) {
        res_error(res, req, DP_ERR_FORBIDDEN, "creating users needs the manager or admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
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
    struct context e;
    char org[ID_LEN];
    enum role role;
    json_t *u;
    int err = api_env(req, &e);
    if (err || (err = users_target(e.db, api_caller(req), req_param(req, "id"), org, &role)) ||
        (err = accounts_user_json(e.db, req_param(req, "id"), &u)))
        return err;
    res_json(res, 200, u);
    return DP_OK;
}

static int patch_user(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id");
    struct context e;
    char org[ID_LEN];
    enum role role;
    int err = api_env(req, &e);
    if (err || (err = users_target(e.db, c, id, org, &role)))
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
        if (self && !users_password_matches(e.db, id, current)) {
            res_error(res, req, DP_ERR_UNPROCESSABLE, "current_password is wrong");
            return DP_ERR_UNPROCESSABLE;
        }
        if ((err = password_hash(password, hash)))
            return err;
    }
    struct users_change ch = {name, password ? hash : NULL, role_s ? role_name((enum role)new_role) : NULL, new_org};
    int demoting = role == ROLE_ADMIN && new_role != ROLE_ADMIN;
    err = users_update(e.db, id, &ch, demoting);
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
        audit_write(e.db, "user.org_change", c->user_id, id, new_org, e.ip,
                    json_pack("{s:s,s:s}", "from", org, "to", new_org));
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
    struct context e;
    char org[ID_LEN];
    enum role role;
    int err = api_env(req, &e);
    if (err || (err = users_target(e.db, c, id, org, &role)))
        return err;
    if (!caller_can_manage(c, org, role) && strcmp(c->user_id, id)) {
        res_error(res, req, DP_ERR_FORBIDDEN, "your role may not delete this user");
        return DP_ERR_FORBIDDEN;
    }
    err = media_delete_user(&e, id, role == ROLE_ADMIN);
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
    const char *q = req_query(req, "q");
    size_t n = q ? strlen(q) : 0;
    if (n < 2 || n > 100) {
        res_error(res, req, DP_ERR_INVALID, "q must be 2 to 100 characters");
        return DP_ERR_INVALID;
    }
    struct context e;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = users_search(e.db, api_caller(req), q, &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char search_doc[] = J({
    "query" : {"q" : {"type" : "string", "description" : "a name (prefix of a word) or an exact e-mail address"}},
    "paged" : true,
    "responses" : {"200" : "Page<UserRef>"}
});
static const char list_doc[] = J({
    "query" : {"org_id" : {"type" : "string", "description" : "admins: one organisation"}},
    "paged" : true,
    "responses" : {"200" : "Page<User>"},
    "errors" : [403]
});
static const char create_doc[] =
    J({"requestBody" : "UserCreate", "responses" : {"201" : "User"}, "errors" : [ 403, 409, 422 ]});
static const char get_doc[] = J({"responses" : {"200" : "User"}});
static const char patch_doc[] =
    J({"requestBody" : "UserPatch", "responses" : {"200" : "User"}, "errors" : [ 403, 409, 422 ]});
static const char delete_doc[] = J({"responses" : {"204" : "-"}, "errors" : [ 403, 409 ]});

const struct route users_routes[] = {
    {"GET", "/api/v1/users/search", 0, 0, search_users, "users",
     "Find people to message: by name (same organisation, or an avatar shared between you) or exact e-mail", search_doc,
     NULL, NULL},
    {"GET", "/api/v1/users", 0, 0, list_users, "users", "List users (admin: all or ?org_id=; manager: own org)",
     list_doc, NULL, NULL},
    {"POST", "/api/v1/users", ROUTE_JSON, 0, create_user, "users",
     "Create a user {email,password,display_name?,role?,org_id?}", create_doc, NULL, NULL},
    {"GET", "/api/v1/users/{id}", 0, 0, get_user, "users", "Get a user (self, or managed by the caller)", get_doc, NULL,
     NULL},
    {"PATCH", "/api/v1/users/{id}", ROUTE_JSON, 0, patch_user, "users",
     "Update {display_name?, password?, current_password?, role?, org_id?}", patch_doc, NULL, NULL},
    {"DELETE", "/api/v1/users/{id}", 0, 0, delete_user, "users", "Delete a user", delete_doc, NULL, NULL},
    {0},
};
