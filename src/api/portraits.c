/* An avatar's portrait: GET (viewers; the picture), PUT {media_id} and DELETE (editors). The legacy
 * page serves a published portrait through portrait_send. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/portraits.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "avatar/avatar.h"
#include "avatar/portrait.h"
#include "core/err.h"
#include "store/blob.h"

int portrait_send(struct request *req, struct response *res, struct context *e, const char *avatar_id,
                  const char *cache_control)
{
    char key[BLOB_KEY_LEN + 1], mime[128], etag[BLOB_KEY_LEN + 3];
    int original = req_query(req, "original") && !strcmp(req_query(req, "original"), "true");
    int err = portrait_picture(e->db, avatar_id, original, key, mime);
    if (err == DP_ERR_NOT_FOUND) {
        res_error(res, req, err, "this avatar has no portrait");
        return err;
    }
    if (err)
        return err;
    snprintf(etag, sizeof etag, "\"%s\"", key);
    res_header(res, "ETag", etag);
    res_header(res, "Cache-Control", cache_control);
    /* Pictures only: a portrait is always an image, and never rendered as anything else. */
    res_header(res, "Content-Disposition", "inline");
    struct blob_reader *br;
    uint64_t size;
    if ((err = api_blob_unless_cached(req, res, e->blobs, key, &br, &size)) || !br)
        return err;
    res->status = 200;
    snprintf(res->content_type, sizeof res->content_type, "%.95s", mime);
    return res_blob(res, br, 0, size);
}

static int get_portrait(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    return portrait_send(req, res, &e, ref.id, "private, max-age=300");
}

static int put_portrait(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    const char *media_id;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = api_body_str(req, res, "media_id", 64, &media_id)))
        return err;
    char msg[160];
    if ((err = portrait_set(&e, &ref, media_id, msg, sizeof msg))) {
        if (err == DP_ERR_INVALID)
            res_error(res, req, err, "%s", msg);
        return err;
    }
    audit_write(e.db, "avatar.portrait", c->user_id, ref.id, c->org_id, e.ip, json_pack("{s:s}", "media_id", media_id));
    res_json(res, 200, json_pack("{s:s}", "portrait_media_id", media_id));
    return DP_OK;
}

static int delete_portrait(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = portrait_clear(&e, &ref)))
        return err;
    audit_write(e.db, "avatar.portrait", c->user_id, ref.id, c->org_id, e.ip, json_pack("{s:n}", "media_id"));
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static const char get_doc[] = J({
    "description" :
        "The avatar's picture: a 256-pixel PNG thumbnail once one is made, else the image itself; ?original=true always the image itself",
    "query" : {"original" : {"type" : "string", "enum" : [ "true", "false" ]}},
    "responses" : {
        "200" : {"description" : "the picture", "content" : {"image/*" : {"schema" : {"type" : "string"}}}},
        "304" : {"description" : "not modified (If-None-Match)"}
    }
});
static const char put_doc[] = J({
    "description" :
        "Makes one of the avatar's images (media of kind image) its portrait (editors). An image of another avatar, or media that is not an image, is refused with 400.",
    "requestBody" : "PortraitIn",
    "responses" : {"200" : "Portrait"},
    "errors" : [403]
});
static const char delete_doc[] = J({
    "description" : "The avatar has no portrait any more; the image stays among its media (editors).",
    "responses" : {"204" : "-"},
    "errors" : [403]
});

const struct route portraits_routes[] = {
    {"GET", "/api/v1/avatars/{id}/portrait", 0, 0, get_portrait, "avatars", "The avatar's portrait (viewers)", get_doc,
     NULL, NULL},
    {"PUT", "/api/v1/avatars/{id}/portrait", ROUTE_JSON, 0, put_portrait, "avatars",
     "Set the avatar's portrait to one of its images", put_doc, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}/portrait", 0, 0, delete_portrait, "avatars", "Remove the avatar's portrait",
     delete_doc, NULL, NULL},
    {0},
};
