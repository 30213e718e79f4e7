/* Avatars routes: CRUD and shares. Every object goes through avatar_access. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "avatar/avatar_store.h"
#include "avatar/sharing.h"
#include "core/err.h"
#include "jobs/jobs.h"
#include "store/cache_gen.h"

/* Checks the body of a create or change; DP_OK or a 400 response. */
static int validate_fields(struct request *req, struct response *res, int creating)
{
    const char *why = avatar_check_body(req->json, creating);
    if (why) {
        res_error(res, req, DP_ERR_INVALID, "%s", why);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

static int create_avatar(struct request *req, struct response *res)
{
    struct context e;
    json_t *a;
    int err = api_env(req, &e);
    if (err || (err = validate_fields(req, res, 1)))
        return err;
    err = avatar_create(e.db, api_caller(req), req->json, &a);
    if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "that page address is taken");
    if (err)
        return err;
    avatar_lists_forget(e.cache, api_caller(req)->org_id, api_caller(req)->user_id);
    json_object_set_new(a, "access", json_string("owner"));
    res_json(res, 201, a);
    return DP_OK;
}

/* The page written straight out (avatar_list_page), no JSON tree. */
static int list_avatars_fill(struct request *req, struct response *res)
{
    struct context e;
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = api_page(req, res, &limit, &cursor)))
        return err;
    struct buf b;
    buf_init(&b, 0);
    if ((err = avatar_list_page(e.db, api_caller(req), cursor, limit, &b))) {
        buf_cleanup(&b);
        return err;
    }
    size_t len;
    char *body = buf_steal(&b, &len);
    res_body(res, 200, "application/json; charset=utf-8", body, len);
    return DP_OK;
}

/* First pages come from the cache: the caller's own key, moved on by any change to an avatar of
 * the caller's organisation (org scope) or to the caller or an avatar they own (user scope). */
static int list_avatars(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *limit = req_query(req, "limit");
    char key[160], org[CACHE_GEN_SCOPE_MAX], user[CACHE_GEN_SCOPE_MAX];
    const char *scopes[] = {org, user};
    avatar_org_scope(c->org_id, org);
    accounts_user_scope(c->user_id, user);
    snprintf(key, sizeof key, "avatars:%s:%s:%s", c->user_id, c->org_id, limit ? limit : "");
    int first = api_first_page(req);
    return api_cached_read(req, res, first ? key : NULL, scopes, 2, list_avatars_fill);
}

/* Answers with the avatar, its stats and the caller's access to it. */
static int respond_avatar(struct context *e, const struct avatar_ref *ref, struct response *res)
{
    json_t *a;
    int err = avatar_with_stats(e, ref->id, &a);
    if (err)
        return err;
    json_object_set_new(a, "access", json_string(avatar_access_name(ref->level)));
    res_json(res, 200, a);
    return DP_OK;
}

static int get_avatar_fill(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    return respond_avatar(&e, &ref, res);
}

/* From the cache under the caller's own key (access differs by caller; a refusal is never
 * stored), moved on by a change to the avatar (fields, shares, stats) or to the caller. */
static int get_avatar(struct request *req, struct response *res)
{
    return api_cached_avatar_read(req, res, "avatar", get_avatar_fill);
}

static int patch_avatar(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_EDIT, &ref)))
        return err;
    if ((err = validate_fields(req, res, 0)))
        return err;
    err = avatar_update(&e, &ref, req->json);
    if (err == DP_ERR_FORBIDDEN)
        res_error(res, req, err,
                  "only the owner changes visibility, the page address, what is published and visitor_talk");
    else if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "that page address is taken");
    if (err)
        return err;
    return respond_avatar(&e, &ref, res);
}

static int delete_avatar(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)))
        return err;
    char job[ID_LEN];
    if ((err = avatar_delete(&e, &ref, c, job)))
        return err;
    audit_write(e.db, "avatar.delete", c->user_id, ref.id, c->org_id, e.ip, NULL);
    json_t *j = NULL;
    job_get_json(e.db, job, &j, NULL, NULL);
    res_json(res, 202, json_pack("{s:s,s:o}", "deleted", ref.id, "job", j ? j : json_null()));
    return DP_OK;
}

static int list_shares(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = sharing_list(e.db, ref.id, &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

static int add_share(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)))
        return err;
    const char *user, *email, *role;
    if ((err = api_body_str(req, res, "user_id", 64, &user)) ||
        (err = api_body_str(req, res, "email", SHARING_EMAIL_MAX, &email)) ||
        (err = api_body_str(req, res, "role", 16, &role)))
        return err;
    role = role ? role : "viewer";
    if (!user == !email || (strcmp(role, "viewer") && strcmp(role, "editor"))) {
        res_error(res, req, DP_ERR_INVALID, "one of user_id or email is required, and role must be viewer or editor");
        return DP_ERR_INVALID;
    }
    struct share_outcome out;
    err = sharing_add(e.db, &ref, user, email, role, c->user_id, &out);
    if (err == DP_ERR_INVALID)
        res_error(res, req, err, "email is not an e-mail address");
    else if (err == DP_ERR_UNPROCESSABLE)
        res_error(res, req, err, "no such user in this avatar's organisation (other than its owner)");
    if (err)
        return err;
    avatar_changed(e.cache, &ref); /* a share changes the user's list and view of the avatar */
    if (out.invited) {
        audit_write(e.db, "avatar.invite", c->user_id, ref.id, ref.org_id, e.ip,
                    json_pack("{s:s,s:s}", "email", out.email, "role", role));
        res_json(res, 202,
                 json_pack("{s:s,s:s,s:s,s:s,s:s}", "avatar_id", ref.id, "email", out.email, "role", role, "status",
                           "invited", "invitation_token", out.token));
        return DP_OK;
    }
    audit_write(e.db, "avatar.share", c->user_id, ref.id, ref.org_id, e.ip,
                json_pack("{s:s,s:s}", "user_id", out.user_id, "role", role));
    res_json(res, 201, json_pack("{s:s,s:s,s:s}", "avatar_id", ref.id, "user_id", out.user_id, "role", role));
    return DP_OK;
}

static int remove_share(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    const char *who = req_param(req, "user_id");
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)) ||
        (err = sharing_remove(e.db, ref.id, who)))
        return err;
    avatar_changed(e.cache, &ref);
    audit_write(e.db, "avatar.unshare", c->user_id, ref.id, ref.org_id, e.ip,
                json_pack("{s:s}", strchr(who, '@') ? "email" : "user_id", who));
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char list_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Avatar>"}});
static const char create_doc[] =
    J({"requestBody" : "AvatarBody", "responses" : {"201" : "Avatar"}, "errors" : [ 403, 409, 422 ]});
static const char get_doc[] = J({"responses" : {"200" : "Avatar"}});
static const char patch_doc[] =
    J({"requestBody" : "AvatarBody", "responses" : {"200" : "Avatar"}, "errors" : [ 403, 409, 422 ]});
static const char delete_doc[] = J({"responses" : {"202" : "AvatarDeleted"}, "errors" : [403]});
static const char shares_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Share>"}, "errors" : [403]});
static const char share_doc[] = J({
    "requestBody" : "ShareBody",
    "responses" : {"201" : "ShareAdded", "202" : "Invitation"},
    "errors" : [ 403, 409, 422 ]
});
static const char unshare_doc[] = J({"responses" : {"204" : "-"}, "errors" : [403]});

const struct route avatars_routes[] = {
    {"GET", "/api/v1/avatars", ROUTE_TRY_INLINE, 0, list_avatars, "avatars",
     "Avatars the caller may see (own, shared, org)", list_doc, NULL, NULL},
    {"POST", "/api/v1/avatars", ROUTE_JSON, 0, create_avatar, "avatars",
     "Create {name, kind, description, personality, scenario, greeting, visibility, brain, publish?}", create_doc, NULL,
     NULL},
    {"GET", "/api/v1/avatars/{id}", ROUTE_TRY_INLINE, 0, get_avatar, "avatars",
     "An avatar with stats, profile and recent conversation (warms its cache)", get_doc, NULL, NULL},
    {"PATCH", "/api/v1/avatars/{id}", ROUTE_JSON, 0, patch_avatar, "avatars",
     "Update fields (editors: content; owner: also visibility and publish)", patch_doc, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}", 0, 0, delete_avatar, "avatars",
     "Delete: gone at once; media, memories and blobs are removed by a job (202)", delete_doc, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/shares", 0, 0, list_shares, "avatars",
     "Shares and open invitations (owner and editors)", shares_doc, NULL, NULL},
    {"POST", "/api/v1/avatars/{id}/shares", ROUTE_JSON, 0, add_share, "avatars",
     "Share {user_id | email, role: viewer|editor} with a user of the same organisation (201), or invite an "
     "address without an account there (202 with an invitation_token to pass on: a sign-up with the address and "
     "{invitation: token} joins the organisation and gets the share) (owner)",
     share_doc, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}/shares/{user_id}", 0, 0, remove_share, "avatars",
     "Remove a share, or an invitation when {user_id} is its e-mail address (owner)", unshare_doc, NULL, NULL},
    {0},
};
