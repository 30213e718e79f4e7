/* The OpenAI-compatible facade: any OpenAI client (SDKs, Open WebUI, SillyTavern) talks to an
 * avatar with a Doppel access token. GET /v1/models lists the avatars the caller may talk to as
 * models; POST /v1/chat/completions answers as the avatar named by `model` (its id or slug) through
 * the same turn as every conversation (talk/), JSON or streamed as chat.completion.chunk events.
 * The client keeps the conversation and sends it whole each time: the request's earlier messages
 * find the caller's conversation that holds them (talk/history_hash.h), or metadata.conversation_id
 * names one; otherwise a new conversation starts holding them. So a chat in a client is one
 * conversation here. System messages are not obeyed: the avatar's persona is the server's.
 * Errors have OpenAI's shape {error:{message, type, param, code}}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/openai_error.h"
#include "api/schemas.h"
#include "auth/api_keys.h"
#include "avatar/avatar.h"
#include "avatar/avatar_store.h"
#include "brain/brain.h"
#include "core/err.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "net/sse.h"
#include "talk/history_hash.h"
#include "talk/talk.h"

#define FACADE_MESSAGES_MAX 256 /* messages of one request */
#define FACADE_TURN_MAX 20000   /* bytes of one earlier message kept */
#define FACADE_MODELS_MAX 1000  /* avatars listed as models */

/* An error of the domain in OpenAI's words. */
static int domain_error(struct response *res, int err)
{
    if (err == DP_ERR_NOT_IMPLEMENTED)
        return openai_error(res, err, "server_error", "not_implemented", NULL,
                            "this avatar's brain cannot answer here (%s)", brain_unavailable_why("generative"));
    if (err == DP_ERR_UNAVAILABLE)
        return openai_error(res, err, "server_error", "service_unavailable", NULL, "%s", dp_strerror(err));
    return openai_error(res, err, err == DP_ERR_NOMEM || err == DP_ERR_DB ? "server_error" : "invalid_request_error",
                        dp_errcode(err), NULL, "%s", dp_strerror(err));
}

static int64_t unix_seconds(const char *rfc3339)
{
    int64_t ms = 0;
    return rfc3339 && time_parse_rfc3339(rfc3339, &ms) == DP_OK ? ms / 1000 : 0;
}

/* GET /v1/models: the avatars the caller may talk to (own, shared, their organisation's). */
static int list_models(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return domain_error(res, err);
    json_t *data = json_array();
    char after[ID_LEN] = "";
    for (size_t got = 0; got < FACADE_MODELS_MAX;) {
        json_t *items;
        if ((err = avatar_list(e.db, api_caller(req), *after ? after : NULL, 200, &items))) {
            json_decref(data);
            return domain_error(res, err);
        }
        size_t i, n = json_array_size(items);
        json_t *a;
        json_array_foreach (items, i, a) {
            snprintf(after, sizeof after, "%s", json_get_str(a, "id"));
            if (!api_keys_allows(&e, api_caller(req), after))
                continue; /* a key limited to other avatars */
            json_array_append_new(data,
                                  json_pack("{s:O,s:s,s:I,s:s,s:O}", "id", json_object_get(a, "id"), "object", "model",
                                            "created", (json_int_t)unix_seconds(json_get_str(a, "created_at")),
                                            "owned_by", "doppel", "name", json_object_get(a, "name")));
        }
        json_decref(items);
        got += n;
        if (n < 200)
            break;
    }
    res_json(res, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
    return DP_OK;
}

/* The text of a message's content: a string, or the text parts of a list of parts. NULL when it
 * is neither (*bad set) — an image part, for instance. Malloc'd. */
static char *content_text(json_t *content, int *bad)
{
    *bad = 0;
    if (json_is_string(content))
        return strdup(json_string_value(content));
    if (json_is_null(content))
        return strdup("");
    if (!json_is_array(content)) {
        *bad = 1;
        return NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    size_t i;
    json_t *part;
    json_array_foreach (content, i, part) {
        const char *type = json_get_str(part, "type"), *text = json_get_str(part, "text");
        if (!type || strcmp(type, "text") || !text) {
            *bad = 1;
            buf_cleanup(&b);
            return NULL;
        }
        buf_append(&b, text, strlen(text));
    }
    if (!b.data)
        return strdup("");
    return buf_steal(&b, NULL);
}

/* A request's conversation, read and checked: the earlier turns and the last (user) message. */
struct chat_request {
    struct talk_turn turns[FACADE_MESSAGES_MAX];
    char *owned[FACADE_MESSAGES_MAX];
    int nturns, nowned;
    char *text; /* the last user message */
    int stream;
    char hash[HISTORY_HASH_LEN]; /* of the earlier turns (talk_history_step) */
};

static void chat_request_cleanup(struct chat_request *c)
{
    for (int i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    c->nowned = 0;
}

static int read_messages(struct response *res, json_t *messages, struct chat_request *c)
{
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0 || n > FACADE_MESSAGES_MAX)
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "messages",
                            "messages must be a list of 1 to %d messages", FACADE_MESSAGES_MAX);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_get_str(m, "role");
        int bad;
        char *text = json_is_object(m) ? content_text(json_object_get(m, "content"), &bad) : NULL;
        if (!role || !text) {
            free(text);
            return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "messages",
                                "messages[%zu] must have a role and a text content (string or text parts)", i);
        }
        c->owned[c->nowned++] = text;
        int last = i + 1 == n;
        if (last) {
            if (strcmp(role, "user") || strspn(text, " \t\r\n") == strlen(text))
                return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "messages",
                                    "the last message must be the user's, with text");
            if (strlen(text) > TALK_MESSAGE_MAX)
                return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "string_above_max_length", "messages",
                                    "the last message is longer than %d bytes", TALK_MESSAGE_MAX);
            c->text = text;
        } else if (!strcmp(role, "user") || !strcmp(role, "assistant")) {
            if (strlen(text) > FACADE_TURN_MAX)
                text[utf8_cut(text, FACADE_TURN_MAX)] = 0;
            if (*text)
                c->turns[c->nturns++] = (struct talk_turn){!strcmp(role, "user") ? "user" : "avatar", text};
        } else if (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "tool")) {
            return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "messages",
                                "messages[%zu].role must be system, developer, user, assistant or tool", i);
        }
    }
    c->hash[0] = 0;
    for (int i = 0; i < c->nturns; i++)
        talk_history_step(c->hash, c->turns[i].role, c->turns[i].text, c->hash);
    return DP_OK;
}

/* After a reply: the conversation now holds the earlier turns, the question and the reply, as
 * the client will send them next time (a long reply cut as read_messages cuts it). */
static void remember_history(struct db *db, const char *conv, const char *hash, const char *text, json_t *reply)
{
    const char *said = json_string_value(json_object_get(reply, "text"));
    char next[HISTORY_HASH_LEN], *cut = said ? strdup(said) : NULL;
    if (!cut)
        return; /* not found again next time: a new conversation, nothing worse */
    if (strlen(cut) > FACADE_TURN_MAX)
        cut[utf8_cut(cut, FACADE_TURN_MAX)] = 0;
    talk_history_step(hash, "user", text, next);
    if (*cut)
        talk_history_step(next, "avatar", cut, next);
    talk_set_history(db, conv, next);
    free(cut);
}

/* The conversation this request continues, into conv ("" for a new one): the one
 * metadata.conversation_id names (the caller's, with this avatar; else 404), or the caller's
 * latest one holding exactly the request's earlier turns. */
static int continued_conversation(struct response *res, struct db *db, const char *user_id, const char *avatar_id,
                                  json_t *body, const struct chat_request *c, char conv[ID_LEN])
{
    conv[0] = 0;
    json_t *named = json_object_get(json_object_get(body, "metadata"), "conversation_id");
    if (named) {
        struct talk_conversation tc;
        int err = json_is_string(named) ? talk_conversation(db, json_string_value(named), &tc) : DP_ERR_NOT_FOUND;
        if (!err && (strcmp(tc.user_id, user_id) || strcmp(tc.avatar_id, avatar_id)))
            err = DP_ERR_NOT_FOUND;
        if (err == DP_ERR_NOT_FOUND)
            return openai_error(res, err, "invalid_request_error", "conversation_not_found", "metadata",
                                "metadata.conversation_id names none of your conversations with this model");
        if (err)
            return domain_error(res, err);
        snprintf(conv, ID_LEN, "%s", tc.id);
        return DP_OK;
    }
    if (!c->nturns)
        return DP_OK; /* a first message starts a new conversation */
    int err = talk_find_by_history(db, avatar_id, user_id, c->hash, conv);
    if (err == DP_ERR_NOT_FOUND) {
        conv[0] = 0;
        return DP_OK;
    }
    return err ? domain_error(res, err) : DP_OK;
}

/* The completion's fixed fields. */
static json_t *completion_base(const char *object, const char *conv, const char *model)
{
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-%s", conv);
    return json_pack("{s:s,s:s,s:I,s:s,s:n}", "id", id, "object", object, "created", (json_int_t)(time_now_ms() / 1000),
                     "model", model, "system_fingerprint");
}

/* Doppel's own part of an answer (OpenAI clients ignore fields they do not know). */
static json_t *doppel_part(const char *conv, json_t *reply)
{
    return json_pack("{s:s,s:O,s:O}", "conversation_id", conv, "message_id", json_object_get(reply, "id"), "citations",
                     json_object_get(reply, "citations"));
}

struct chat_stream {
    char conv[ID_LEN], avatar[ID_LEN], user_mid[ID_LEN];
    char hash[HISTORY_HASH_LEN]; /* of the request's earlier turns */
    char model[80];
    char *text;
    int include_usage; /* stream_options.include_usage */
};

/* The model's token counts (-1: none given: a recall avatar's answer uses no model). */
struct usage {
    long prompt, completion;
};

static void on_usage(void *ctx, long prompt_tokens, long completion_tokens)
{
    struct usage *u = ctx;
    u->prompt = prompt_tokens;
    u->completion = completion_tokens;
}

static json_t *usage_json(const struct usage *u)
{
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)u->prompt, "completion_tokens",
                     (json_int_t)u->completion, "total_tokens", (json_int_t)(u->prompt + u->completion));
}

static void chat_stream_free(void *arg)
{
    struct chat_stream *j = arg;
    free(j->text);
    free(j);
}

struct chunk_ctx {
    struct sse *s;
    const struct chat_stream *j;
    struct usage usage;
};

static void chunk_usage(void *ctx, long prompt_tokens, long completion_tokens)
{
    struct chunk_ctx *k = ctx;
    on_usage(&k->usage, prompt_tokens, completion_tokens);
}

static void send_chunk(struct chunk_ctx *k, json_t *delta, const char *finish, json_t *extra)
{
    json_t *c = completion_base("chat.completion.chunk", k->j->conv, k->j->model);
    json_object_set_new(c, "choices",
                        json_pack("[{s:i,s:o,s:n,s:o}]", "index", 0, "delta", delta, "logprobs", "finish_reason",
                                  finish ? json_string(finish) : json_null()));
    if (extra)
        json_object_set_new(c, "doppel", extra);
    char *t = json_dumps(c, JSON_COMPACT);
    sse_send(k->s, NULL, t ? t : "{}");
    free(t);
    json_decref(c);
}

static void chunk_delta(void *ctx, const char *text, size_t len)
{
    send_chunk(ctx, json_pack("{s:s%}", "content", text, len), NULL, NULL);
}

static int stream_gone(void *s)
{
    return sse_cancelled(s);
}

/* The streamed answer: a first chunk with the role, one per piece, a last one with the finish
 * reason (and Doppel's part: the stored message and its citations), then [DONE]. */
static void produce_chat(struct sse *s, void *arg, void *state)
{
    struct chat_stream *j = arg;
    struct chunk_ctx k = {s, j, {-1, -1}};
    struct db *db;
    json_t *reply = NULL;
    const struct brain_sink sink = {chunk_delta, NULL, &k, chunk_usage};
    send_chunk(&k, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, NULL);
    struct cache *cache;
    int err = worker_db(state, &db);
    if (!err)
        err = talk_answer(db, j->conv, j->avatar, j->user_mid, j->text, stream_gone, s, &sink, &reply);
    if (!err)
        remember_history(db, j->conv, j->hash, j->text, reply);
    if (!worker_cache(state, &cache))
        talk_conversation_changed(cache, j->conv); /* its messages page shows the reply */
    if (err == DP_ERR_CANCELLED)
        return;
    if (err) {
        struct response r = {0};
        domain_error(&r, err);
        char *t = json_dumps(r.json, JSON_COMPACT);
        sse_send(s, NULL, t ? t : "{}");
        free(t);
        res_cleanup(&r);
        return;
    }
    send_chunk(&k, json_object(), "stop", doppel_part(j->conv, reply));
    if (j->include_usage && k.usage.prompt >= 0) {
        /* As OpenAI sends it: a last chunk with no choices and the usage. */
        json_t *u = completion_base("chat.completion.chunk", j->conv, j->model);
        json_object_set_new(u, "choices", json_array());
        json_object_set_new(u, "usage", usage_json(&k.usage));
        char *t = json_dumps(u, JSON_COMPACT);
        sse_send(s, NULL, t ? t : "{}");
        free(t);
        json_decref(u);
    }
    sse_send(s, NULL, "[DONE]");
    json_decref(reply);
}

static int stream_answer(struct request *req, struct response *res, const struct chat_request *c, const char *conv,
                         const char *avatar, const char *user_mid, const char *model, int include_usage)
{
    struct chat_stream *j = calloc(1, sizeof *j);
    if (!j || !(j->text = strdup(c->text))) {
        free(j);
        return domain_error(res, DP_ERR_NOMEM);
    }
    snprintf(j->conv, sizeof j->conv, "%s", conv);
    snprintf(j->avatar, sizeof j->avatar, "%s", avatar);
    snprintf(j->user_mid, sizeof j->user_mid, "%s", user_mid);
    memcpy(j->hash, c->hash, sizeof j->hash);
    snprintf(j->model, sizeof j->model, "%s", model);
    j->include_usage = include_usage;
    int err = sse_respond(req, res, produce_chat, j, chat_stream_free);
    if (err) {
        chat_stream_free(j);
        return domain_error(res, err);
    }
    return DP_OK;
}

/* POST /v1/chat/completions. */
static int chat_completions(struct request *req, struct response *res)
{
    json_t *b = req->json;
    const char *model = json_get_str(b, "model");
    json_t *stream = json_object_get(b, "stream"), *n = json_object_get(b, "n");
    if (!model || !*model || strlen(model) > 64)
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "model",
                            "model must be the id or slug of an avatar you may talk to (GET /v1/models)");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream))
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_type", "stream",
                            "stream must be a boolean");
    if (n && !json_is_null(n) && (!json_is_integer(n) || json_integer_value(n) != 1))
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "unsupported_value", "n",
                            "an avatar gives one answer: n must be 1");
    struct chat_request *c = calloc(1, sizeof *c);
    if (!c)
        return domain_error(res, DP_ERR_NOMEM);
    struct context e;
    struct avatar_ref ref;
    int err = read_messages(res, json_object_get(b, "messages"), c);
    if (!err && (err = api_env(req, &e)))
        domain_error(res, err);
    if (!err) {
        err = avatar_resolve(e.db, api_caller(req), model, &ref);
        if (!err && !api_keys_allows(&e, api_caller(req), ref.id))
            err = DP_ERR_NOT_FOUND; /* a key limited to other avatars: as if there were no such model */
        if (err == DP_ERR_NOT_FOUND)
            openai_error(res, err, "invalid_request_error", "model_not_found", "model",
                         "The model `%s` does not exist or you do not have access to it.", model);
        else if (err)
            domain_error(res, err);
    }
    char conv[ID_LEN], user_mid[ID_LEN];
    struct talk_holder h = {api_caller(req)->user_id, NULL};
    if (!err)
        err = continued_conversation(res, e.db, h.user_id, ref.id, b, c, conv);
    /* The user's message is durable before anything is answered. */
    if (!err && *conv && (err = talk_add_user_message(e.db, conv, c->text, user_mid)))
        domain_error(res, err);
    else if (!err && !*conv &&
             (err = talk_start_replay(e.db, ref.id, &h, c->turns, c->nturns, c->text, conv, user_mid)))
        domain_error(res, err);
    if (!err && json_is_true(stream)) {
        err = stream_answer(req, res, c, conv, ref.id, user_mid, model,
                            json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
    } else if (!err) {
        json_t *reply;
        struct usage u = {-1, -1};
        const struct brain_sink sink = {NULL, NULL, &u, on_usage};
        err = talk_answer(e.db, conv, ref.id, user_mid, c->text, NULL, NULL, &sink, &reply);
        if (!err)
            remember_history(e.db, conv, c->hash, c->text, reply);
        talk_conversation_changed(e.cache, conv);
        if (err) {
            domain_error(res, err);
        } else {
            json_t *out = completion_base("chat.completion", conv, model);
            json_object_set_new(out, "choices",
                                json_pack("[{s:i,s:{s:s,s:O,s:n},s:n,s:s}]", "index", 0, "message", "role", "assistant",
                                          "content", json_object_get(reply, "text"), "refusal", "logprobs",
                                          "finish_reason", "stop"));
            if (u.prompt >= 0) /* only a model counts tokens */
                json_object_set_new(out, "usage", usage_json(&u));
            json_object_set_new(out, "doppel", doppel_part(conv, reply));
            json_decref(reply);
            res_json(res, 200, out);
        }
    }
    chat_request_cleanup(c);
    free(c);
    return err;
}

/* OpenAPI: bodies and answers (api/schemas.h has the short forms). Errors have OpenAI's shape
 * (OPENAI_ERRORS). */
static const char models_doc[] = "{\"responses\": {\"200\": \"ModelList\", " OPENAI_ERRORS "}}";
static const char chat_doc[] =
    "{\"requestBody\": \"ChatCompletionRequest\", \"responses\": {"
    "\"200\": {\"description\": \"the answer (chat.completion), or with stream: true its chunks as server-sent events\", "
    "\"content\": {\"application/json\": {\"schema\": \"ChatCompletion\"}, "
    "\"text/event-stream\": {\"schema\": \"ChatCompletionStream\"}}}, " OPENAI_ERRORS "}}";

const struct route openai_routes[] = {
    {"GET", "/v1/models", 0, 0, list_models, "openai", "The avatars the caller may talk to, as models", models_doc,
     NULL, NULL},
    {"POST", "/v1/chat/completions", ROUTE_JSON | ROUTE_SLOW, 0, chat_completions, "openai",
     "Talk to the avatar named by model (its id or slug), as an OpenAI chat completion (stream: true for chunks)",
     chat_doc, NULL, NULL},
    {0},
};
