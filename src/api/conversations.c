/* Conversations with an avatar: start (the greeting), list, history, and messages answered by
 * the avatar's brain — as JSON, or streamed as SSE (delta, citation, done). The turn itself is
 * talk/'s; here are the routes and the access checks. */
#include "api/conversations.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "avatar/avatar.h"
#include "brain/brain.h"
#include "core/err.h"
#include "net/sse.h"
#include "store/cache.h"
#include "store/cache_gen.h"
#include "talk/talk.h"

static int start_conversation(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    char conv[ID_LEN];
    json_t *greeting;
    struct talk_holder h = {c->user_id, NULL};
    if ((err = talk_start(e.db, ref.id, &h, conv, &greeting)))
        return err;
    res_json(res, 201,
             json_pack("{s:{s:s,s:s,s:O},s:o}", "conversation", "id", conv, "avatar_id", ref.id, "created_at",
                       json_object_get(greeting, "created_at"), "message", greeting));
    return DP_OK;
}

/* The caller's conversations with the avatar — or, with ?visitors=true, the visitors' of its
 * legacy page (the owner's to read). */
static int list_conversations(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    long limit;
    const char *cursor, *visitors = req_query(req, "visitors");
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = api_page(req, res, &limit, &cursor)))
        return err;
    int of_visitors = visitors && !strcmp(visitors, "true");
    if (visitors && !of_visitors && strcmp(visitors, "false")) {
        res_error(res, req, DP_ERR_INVALID, "visitors must be true or false");
        return DP_ERR_INVALID;
    }
    if (of_visitors && ref.level != AVATAR_OWN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "only the owner reads the visitors' conversations");
        return DP_ERR_FORBIDDEN;
    }
    json_t *items;
    if ((err = talk_list(e.db, ref.id, of_visitors ? NULL : c->user_id, cursor, limit, &items)))
        return err;
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

/* The conversation cid when the caller may use it: their own, on an avatar still visible to
 * them; or a visitor's, to the avatar's owner (to read). Else DP_ERR_NOT_FOUND. */
static int callers_conversation(struct context *e, const struct caller *c, const char *cid, int to_write,
                                struct talk_conversation *conv)
{
    struct avatar_ref ref;
    int err = talk_conversation(e->db, cid, conv);
    if (err)
        return err;
    if (!strcmp(conv->user_id, c->user_id))
        return avatar_access(e->db, c, conv->avatar_id, AVATAR_VIEW, NULL);
    if (*conv->user_id || to_write)
        return DP_ERR_NOT_FOUND;
    err = avatar_access(e->db, c, conv->avatar_id, AVATAR_VIEW, &ref);
    return err ? err : ref.level == AVATAR_OWN ? DP_OK : DP_ERR_NOT_FOUND;
}

/* ?order=desc pages from the newest end (a page's next_cursor goes on towards the oldest);
 * ?before=ID is the same from below that message. -1 (answered) when either is not valid. */
static int messages_order(struct request *req, struct response *res, const char **cursor)
{
    const char *order = req_query(req, "order"), *before = req_query(req, "before");
    if (order && strcmp(order, "asc") && strcmp(order, "desc")) {
        res_error(res, req, DP_ERR_INVALID, "order must be asc or desc");
        return -1;
    }
    if (before && !id_valid(before)) {
        res_error(res, req, DP_ERR_INVALID, "before must be a message id");
        return -1;
    }
    if (before && (*cursor || (order && !strcmp(order, "asc")))) {
        res_error(res, req, DP_ERR_INVALID, "before pages newest first: give it without cursor or order=asc");
        return -1;
    }
    if (before)
        *cursor = before;
    return before || (order && !strcmp(order, "desc"));
}

int conversation_messages(struct request *req, struct response *res, struct db *db, const char *cid)
{
    long limit;
    const char *cursor;
    json_t *items;
    int err = api_page(req, res, &limit, &cursor);
    if (err)
        return err;
    int desc = messages_order(req, res, &cursor);
    if (desc < 0)
        return DP_ERR_INVALID;
    if ((err = talk_messages(db, cid, cursor, desc, limit, &items)))
        return err;
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

static int list_messages_fill(struct request *req, struct response *res)
{
    struct context e;
    struct talk_conversation conv;
    int err = api_env(req, &e);
    if (err || (err = callers_conversation(&e, api_caller(req), req_param(req, "cid"), 0, &conv)))
        return err;
    return conversation_messages(req, res, e.db, conv.id);
}

/* The avatar of conversation cid (never changes: kept in the cache once read); DP_ERR_WOULDBLOCK
 * on the loop when it must be read. */
static int conversation_avatar(struct context *e, const char *cid, char avatar[ID_LEN])
{
    char key[64], *v = NULL;
    size_t len;
    snprintf(key, sizeof key, "conv-avatar:%s", cid);
    if (!cache_get(e->cache, key, &v, &len)) {
        int ok = id_valid(v);
        if (ok)
            memcpy(avatar, v, ID_LEN);
        free(v);
        if (ok)
            return DP_OK;
    }
    if (!e->db)
        return DP_ERR_WOULDBLOCK;
    struct talk_conversation conv;
    int err = talk_conversation(e->db, cid, &conv);
    if (err)
        return err;
    memcpy(avatar, conv.avatar_id, ID_LEN);
    cache_set(e->cache, key, avatar, strlen(avatar), 24 * 3600 * 1000);
    return DP_OK;
}

/* The first page from the cache under the caller's key, moved on by a message (conversation
 * scope), a change of access to its avatar (avatar scope) or to the caller. */
static int list_messages(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    const char *cid = req_param(req, "cid"), *limit = req_query(req, "limit");
    char key[200], conv[CACHE_GEN_SCOPE_MAX], avatar[CACHE_GEN_SCOPE_MAX], user[CACHE_GEN_SCOPE_MAX], aid[ID_LEN];
    const char *scopes[] = {conv, avatar, user};
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    const char *order = req_query(req, "order");
    int first = cid && id_valid(cid) && api_first_page(req) && !req_query(req, "before") &&
                (!order || !strcmp(order, "asc") || !strcmp(order, "desc"));
    if (first && (err = conversation_avatar(&e, cid, aid)))
        return err == DP_ERR_WOULDBLOCK ? err : list_messages_fill(req, res);
    if (first) {
        talk_conversation_scope(cid, conv);
        avatar_scope(aid, avatar);
        accounts_user_scope(c->user_id, user);
        snprintf(key, sizeof key, "messages:%s:%s:%s:%s:%s", cid, c->user_id, c->org_id, limit ? limit : "",
                 order && !strcmp(order, "desc") ? "desc" : "asc");
    }
    return api_cached_read(req, res, first ? key : NULL, scopes, 3, list_messages_fill);
}

/* The brain's cancel check for a streamed reply. */
static int client_gone(void *sse)
{
    return sse_cancelled(sse);
}

struct stream_job {
    char conv[ID_LEN], avatar[ID_LEN], user_mid[ID_LEN];
    char *text;
};

static void stream_job_free(void *arg)
{
    struct stream_job *j = arg;
    free(j->text);
    free(j);
}

static void send_json_event(struct sse *s, const char *event, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    sse_send(s, event, t ? t : "{}");
    free(t);
}

static void sse_delta(void *sse, const char *text, size_t len)
{
    json_t *d = json_pack("{s:s%}", "text", text, len);
    send_json_event(sse, "delta", d);
    json_decref(d);
}

static void sse_citation(void *sse, json_t *citation)
{
    send_json_event(sse, "citation", citation);
}

/* SSE: the reply's pieces as the brain makes them (delta), its citations, then done with the
 * stored message — or error. */
static void stream_reply(struct sse *s, void *arg, void *state)
{
    struct stream_job *j = arg;
    struct db *db;
    json_t *reply = NULL;
    const struct brain_sink sink = {sse_delta, sse_citation, s, NULL};
    struct cache *cache;
    int err = worker_db(state, &db);
    if (!err)
        err = talk_answer(db, j->conv, j->avatar, j->user_mid, j->text, client_gone, s, &sink, &reply);
    if (!worker_cache(state, &cache))
        talk_conversation_changed(cache, j->conv); /* whatever was stored, before it is told */
    if (err == DP_ERR_CANCELLED)
        return; /* nobody is listening */
    if (err) {
        json_t *e = json_pack("{s:s,s:s}", "code", dp_errcode(err), "message", dp_strerror(err));
        send_json_event(s, "error", e);
        json_decref(e);
        return;
    }
    json_t *done = json_pack("{s:o}", "message", reply);
    send_json_event(s, "done", done);
    json_decref(done);
}

int conversation_reply(struct request *req, struct response *res, struct db *db, const struct talk_conversation *c)
{
    const char *text;
    char user_mid[ID_LEN];
    int err = api_body_str(req, res, "text", TALK_MESSAGE_MAX, &text);
    if (err)
        return err;
    if (!text || strspn(text, " \t\r\n") == strlen(text)) {
        res_error(res, req, DP_ERR_INVALID, "text is required (up to %d bytes)", TALK_MESSAGE_MAX);
        return DP_ERR_INVALID;
    }
    /* The user's message is durable before anything is answered. */
    struct context e;
    if ((err = api_env(req, &e)) || (err = talk_add_user_message(db, c->id, text, user_mid)))
        return err;
    talk_conversation_changed(e.cache, c->id);
    if (req->accept && strcasestr(req->accept, "text/event-stream")) {
        struct stream_job *j = calloc(1, sizeof *j);
        if (!j || !(j->text = strdup(text))) {
            free(j);
            return DP_ERR_NOMEM;
        }
        snprintf(j->conv, sizeof j->conv, "%s", c->id);
        snprintf(j->avatar, sizeof j->avatar, "%s", c->avatar_id);
        snprintf(j->user_mid, sizeof j->user_mid, "%s", user_mid);
        err = sse_respond(req, res, stream_reply, j, stream_job_free);
        if (err)
            stream_job_free(j);
        return err;
    }
    json_t *reply;
    err = talk_answer(db, c->id, c->avatar_id, user_mid, text, NULL, NULL, NULL, &reply);
    talk_conversation_changed(e.cache, c->id);
    if (err == DP_ERR_NOT_IMPLEMENTED) {
        res_error(res, req, err, "this avatar's brain cannot answer here (%s); the recall brain can",
                  brain_unavailable_why("generative"));
        return err;
    }
    if (err)
        return err;
    res_json(res, 201, json_pack("{s:o}", "message", reply));
    return DP_OK;
}

static int post_message(struct request *req, struct response *res)
{
    struct context e;
    struct talk_conversation conv;
    int err = api_env(req, &e);
    if (err || (err = callers_conversation(&e, api_caller(req), req_param(req, "cid"), 1, &conv)))
        return err;
    return conversation_reply(req, res, e.db, &conv);
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char start_doc[] = J({"responses" : {"201" : "Started"}, "errors" : [403]});
static const char list_doc[] = J({
    "query" : {
        "visitors" : {
            "type" : "string",
            "enum" : [ "true", "false" ],
            "description" : "true: the legacy page visitors' conversations (owner)"
        }
    },
    "paged" : true,
    "responses" : {"200" : "Page<Conversation>"},
    "errors" : [403]
});
static const char messages_doc[] = J({
    "paged" : true,
    "query" : {
        "order" : {
            "type" : "string",
            "enum" : [ "asc", "desc" ],
            "description" : "desc: newest first, next_cursor towards the oldest"
        },
        "before" :
            {"type" : "string", "description" : "newest first from below this message id (a client's older pages)"}
    },
    "responses" : {"200" : "Page<Message>"}
});
static const char send_doc[] = J({
    "requestBody" : "TextSample",
    "responses" : {
        "201" : {"description" : "the reply", "content" : {"application/json" : {"schema" : "Reply"}}},
        "200" : {"description" : "the reply streamed", "content" : {"text/event-stream" : {"schema" : "ReplyStream"}}}
    },
    "errors" : [ 403, 422, 501 ]
});

const struct route conversations_routes[] = {
    {"POST", "/api/v1/avatars/{id}/conversations", 0, 0, start_conversation, "conversations",
     "Start a conversation; the avatar's greeting is its first message", start_doc, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/conversations", 0, 0, list_conversations, "conversations",
     "The caller's conversations with this avatar, newest first; ?visitors=true: its legacy page's visitors' (owner)",
     list_doc, NULL, NULL},
    {"GET", "/api/v1/conversations/{cid}/messages", ROUTE_TRY_INLINE, 0, list_messages, "conversations",
     "Conversation history (the caller's; a visitor's conversation to the avatar's owner)", messages_doc, NULL, NULL},
    {"POST", "/api/v1/conversations/{cid}/messages", ROUTE_JSON | ROUTE_SLOW, 0, post_message, "conversations",
     "Send {text}; the reply {message:{id,text,citations,audio_url?}} — or with Accept: text/event-stream, SSE "
     "events delta, citation, done",
     send_doc, NULL, NULL},
    {0},
};
