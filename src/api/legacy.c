/* The legacy page of a link/public avatar, for anyone: exactly the fields its owner published,
 * and — unless the owner turned it off — a visitor's conversation with it, held by a token
 * handed out when it starts. No account, no internal id, nothing else of the avatar; every route
 * is rate limited per address. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/portraits.h"
#include "api/conversations.h"
#include "api/schemas.h"
#include "auth/secret.h"
#include "avatar/avatar_store.h"
#include "core/err.h"
#include "talk/talk.h"

/* Rate limit of the legacy routes, per address and route family. */
static int visitor_limit(struct request *req, struct response *res, struct context *e, const char *what,
                         double per_second, double burst)
{
    char key[112];
    snprintf(key, sizeof key, "rl:legacy-%s:ip:%s", what, req->client_ip);
    return api_rate_limit(req, res, e->security, "legacy", key, per_second, burst);
}

/* The published avatar of the page {slug}, for a reader of the page (rate-limited per address). */
static int page_avatar(struct request *req, struct response *res, struct context *e, json_t **a)
{
    int err = api_env(req, e);
    if (err || (err = visitor_limit(req, res, e, "page", 5.0, 30.0)))
        return err;
    return avatar_published(e->db, req_param(req, "slug"), a);
}

static int legacy_page(struct request *req, struct response *res)
{
    struct context e;
    json_t *a;
    int err = page_avatar(req, res, &e, &a);
    if (err)
        return err;
    json_t *page = json_pack("{s:s,s:O,s:O}", "slug", req_param(req, "slug"), "visibility",
                             json_object_get(a, "visibility"), "visitor_talk", json_object_get(a, "visitor_talk"));
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(a, "publish"), i, f) {
        const char *field = json_string_value(f);
        if (strcmp(field, "portrait"))
            json_object_set(page, field, json_object_get(a, field));
        else if (json_is_string(json_object_get(a, "portrait_media_id")))
            json_object_set_new(page, "portrait_url",
                                json_sprintf("/api/v1/legacy/%s/portrait", req_param(req, "slug")));
    }
    json_decref(a);
    res_json(res, 200, page);
    return DP_OK;
}

/* The portrait of the page, when its owner published it. */
static int legacy_portrait(struct request *req, struct response *res)
{
    struct context e;
    json_t *a;
    int err = page_avatar(req, res, &e, &a);
    if (err)
        return err;
    int shown = 0;
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(a, "publish"), i, f)
        shown |= !strcmp(json_string_value(f), "portrait");
    char id[ID_LEN];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(a, "id")));
    json_decref(a);
    if (!shown) {
        res_error(res, req, DP_ERR_NOT_FOUND, "this page shows no portrait");
        return DP_ERR_NOT_FOUND;
    }
    return portrait_send(req, res, &e, id, "public, max-age=300");
}

static int start_visit(struct request *req, struct response *res)
{
    struct context e;
    json_t *a, *greeting;
    int err = api_env(req, &e);
    if (err || (err = visitor_limit(req, res, &e, "start", 0.1, 10.0)) ||
        (err = avatar_published(e.db, req_param(req, "slug"), &a)))
        return err;
    char id[ID_LEN], conv[ID_LEN], token[SECRET_LEN], hash[SECRET_HASH_LEN];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(a, "id")));
    int open = json_is_true(json_object_get(a, "visitor_talk"));
    json_decref(a);
    if (!open) {
        res_error(res, req, DP_ERR_FORBIDDEN, "the owner does not take visitors' conversations on this page");
        return DP_ERR_FORBIDDEN;
    }
    secret_new(token, hash);
    struct talk_holder h = {NULL, hash};
    if ((err = talk_start(e.db, id, &h, conv, &greeting)))
        return err;
    res_json(res, 201,
             json_pack("{s:{s:s,s:O},s:s,s:o}", "conversation", "id", conv, "created_at",
                       json_object_get(greeting, "created_at"), "visitor_token", token, "message", greeting));
    return DP_OK;
}

/* The visitor's conversation {cid} of the page {slug}, proven by "Authorization: Visitor <token>". */
static int visitors_conversation(struct request *req, struct context *e, struct talk_conversation *conv)
{
    const char *auth = req->authorization;
    const char *token = auth && !strncmp(auth, "Visitor ", 8) ? auth + 8 : NULL;
    return talk_visitor_conversation(e->db, req_param(req, "slug"), req_param(req, "cid"), token, conv);
}

static int visit_messages(struct request *req, struct response *res)
{
    struct context e;
    struct talk_conversation conv;
    int err = api_env(req, &e);
    if (err || (err = visitor_limit(req, res, &e, "page", 5.0, 30.0)) || (err = visitors_conversation(req, &e, &conv)))
        return err;
    return conversation_messages(req, res, e.db, conv.id);
}

static int visit_message(struct request *req, struct response *res)
{
    struct context e;
    struct talk_conversation conv;
    int full;
    int err = api_env(req, &e);
    if (err || (err = visitor_limit(req, res, &e, "message", 0.5, 20.0)) ||
        (err = visitors_conversation(req, &e, &conv)) ||
        (err = talk_conversation_full(e.db, conv.id, TALK_VISITOR_MESSAGES_MAX, &full)))
        return err;
    if (full) {
        res_error(res, req, DP_ERR_UNPROCESSABLE, "this conversation is full (%d messages): start a new one",
                  TALK_VISITOR_MESSAGES_MAX);
        return DP_ERR_UNPROCESSABLE;
    }
    return conversation_reply(req, res, e.db, &conv);
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char page_doc[] = J({"responses" : {"200" : "Legacy"}});
static const char visit_doc[] = J({"responses" : {"201" : "Started"}, "errors" : [403]});
static const char visit_messages_doc[] = J({
    "paged" : true,
    "query" : {
        "order" : {"type" : "string", "enum" : [ "asc", "desc" ], "description" : "desc: newest first"},
        "before" : {"type" : "string", "description" : "newest first from below this message id"}
    },
    "responses" : {"200" : "Page<Message>"},
    "errors" : [ 401, 403 ]
});
static const char visit_send_doc[] = J({
    "requestBody" : "TextSample",
    "responses" : {
        "201" : {"description" : "the reply", "content" : {"application/json" : {"schema" : "Reply"}}},
        "200" : {
            "description" : "the reply streamed (Accept: text/event-stream)",
            "content" : {"text/event-stream" : {"schema" : "ReplyStream"}}
        }
    },
    "errors" : [ 401, 403, 422 ]
});

static const char portrait_doc[] = J({
    "query" : {"original" : {"type" : "string", "enum" : [ "true", "false" ]}},
    "responses" : {
        "200" : {"description" : "the picture", "content" : {"image/*" : {"schema" : {"type" : "string"}}}},
        "304" : {"description" : "not modified (If-None-Match)"}
    }
});

const struct route legacy_routes[] = {
    {"GET", "/api/v1/legacy/{slug}", ROUTE_PUBLIC, 0, legacy_page, "legacy",
     "Public page data of a link/public avatar: only the published fields and whether visitors may talk", page_doc,
     NULL, NULL},
    {"GET", "/api/v1/legacy/{slug}/portrait", ROUTE_PUBLIC, 0, legacy_portrait, "legacy",
     "The page's portrait, when its owner published it (no auth)", portrait_doc, NULL, NULL},
    {"POST", "/api/v1/legacy/{slug}/conversations", ROUTE_PUBLIC, 0, start_visit, "legacy",
     "A visitor's conversation (no account; rate limited): {conversation, visitor_token, message}; send the token "
     "as 'Authorization: Visitor <token>'",
     visit_doc, NULL, NULL},
    {"GET", "/api/v1/legacy/{slug}/conversations/{cid}/messages", ROUTE_PUBLIC, 0, visit_messages, "legacy",
     "The visitor's conversation history (Authorization: Visitor <token>)", visit_messages_doc, NULL, NULL},
    {"POST", "/api/v1/legacy/{slug}/conversations/{cid}/messages", ROUTE_PUBLIC | ROUTE_JSON | ROUTE_SLOW, 0,
     visit_message, "legacy", "Send {text} as a visitor (Authorization: Visitor <token>); the reply as JSON or SSE",
     visit_send_doc, NULL, NULL},
    {0},
};
