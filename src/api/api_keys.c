/* API keys for the OpenAI-compatible facade (auth/api_keys.h): a user makes one (shown once),
 * lists theirs and revokes one. Keys are accepted on /v1/ only, so these routes take an access
 * token: a leaked key cannot make more keys. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/api_keys.h"
#include "auth/audit.h"
#include "auth/settings.h"
#include "avatar/avatar.h"
#include "core/err.h"

static int create_key(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    const char *name;
    char key[128], msg[160];
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "name", API_KEY_NAME_MAX * 4, &name)))
        return err;
    snprintf(key, sizeof key, "rl:apikey:user:%s", c->user_id);
    if ((err = api_rate_limit(req, res, e.security, "apikey", key, (double)auth_cfg.auth_rate / 60.0,
                              (double)auth_cfg.auth_rate)))
        return err;
    /* A key limited to some avatars names only avatars the user may talk to now. */
    json_t *avatars = json_object_get(req->json, "avatars"), *a;
    size_t i;
    json_array_foreach (avatars, i, a) {
        struct avatar_ref ref;
        int denied = !json_is_string(a) || i >= API_KEY_AVATARS_MAX ||
                     avatar_access(e.db, c, json_string_value(a), AVATAR_VIEW, &ref) != DP_OK;
        if (denied) {
            res_error(res, req, DP_ERR_INVALID, "avatars[%zu] is not an avatar you may talk to", i);
            return DP_ERR_INVALID;
        }
    }
    json_t *out;
    if ((err = api_keys_create(&e, c, name ? name : "", avatars, &out, msg, sizeof msg))) {
        if (err == DP_ERR_INVALID || err == DP_ERR_CONFLICT)
            res_error(res, req, err, "%s", msg);
        return err;
    }
    audit_write(e.db, "apikey.create", c->user_id, json_string_value(json_object_get(out, "id")), c->org_id, e.ip,
                json_pack("{s:O}", "name", json_object_get(out, "name")));
    res_header(res, "Cache-Control", "no-store");
    res_json(res, 201, out);
    return DP_OK;
}

static int list_keys(struct request *req, struct response *res)
{
    struct context e;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = api_keys_list(&e, api_caller(req), &items)))
        return err;
    res_json(res, 200, json_pack("{s:o}", "items", items));
    return DP_OK;
}

static int revoke_key(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = api_keys_revoke(&e, c, req_param(req, "id"))))
        return err;
    audit_write(e.db, "apikey.revoke", c->user_id, req_param(req, "id"), c->org_id, e.ip, NULL);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static const char create_doc[] = J({
    "description" :
        "Makes an API key for OpenAI clients (Authorization: Bearer sk-dp-…, accepted on /v1/ only), reaching every avatar the user may talk to, or with avatars only those. The key is in this answer only; Doppel keeps its hash. At most 50 live keys per user (409).",
    "requestBody" : "ApiKeyIn",
    "responses" : {"201" : "ApiKeyCreated"},
    "errors" : [409]
});
static const char list_doc[] = J({
    "description" : "The caller's live API keys, newest first (never the keys themselves)",
    "responses" : {"200" : "ApiKeyList"}
});
static const char revoke_doc[] = J({
    "description" : "Revokes one of the caller's API keys: refused at once on every instance",
    "responses" : {"204" : "-"}
});

const struct route api_keys_routes[] = {
    {"POST", "/api/v1/auth/api-keys", ROUTE_JSON, 0, create_key, "auth",
     "Make an API key for the OpenAI-compatible facade", create_doc, NULL, NULL},
    {"GET", "/api/v1/auth/api-keys", 0, 0, list_keys, "auth", "The caller's API keys", list_doc, NULL, NULL},
    {"DELETE", "/api/v1/auth/api-keys/{id}", 0, 0, revoke_key, "auth", "Revoke an API key", revoke_doc, NULL, NULL},
    {0},
};
