/* Memories routes: list or search an avatar's memories (viewers and up), add, edit (versioned)
 * and delete them (editors and up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "avatar/avatar.h"
#include "avatar/clip.h"
#include "avatar/quota.h"
#include "brain/memory.h"
#include "core/timeutil.h"
#include "core/err.h"
#include "core/json.h"
#include "store/cache.h"
#include "store/db.h"

static const char *check_kind(const char *k)
{
    static const char *const kinds[] = {"fact", "utterance", "passage", "qa", NULL};
    for (const char *const *p = kinds; *p; p++)
        if (!strcmp(k, *p))
            return NULL;
    return "kind must be fact, utterance, passage or qa";
}

/* Reads and validates {text, kind, importance, speaker}; absent fields stay NULL / unset. */
static int read_fields(struct request *req, struct response *res, const char **text, const char **kind,
                       double *importance, int *has_importance, const char **speaker)
{
    int err;
    if ((err = api_body_str(req, res, "text", MEMORY_TEXT_MAX, text)) ||
        (err = api_body_str(req, res, "kind", 16, kind)) || (err = api_body_str(req, res, "speaker", 200, speaker)))
        return err;
    if (*text && strspn(*text, " \t\r\n") == strlen(*text)) {
        res_error(res, req, DP_ERR_INVALID, "text must not be empty");
        return DP_ERR_INVALID;
    }
    const char *why = *kind ? check_kind(*kind) : NULL;
    if (why) {
        res_error(res, req, DP_ERR_INVALID, "%s", why);
        return DP_ERR_INVALID;
    }
    json_t *imp = json_object_get(req->json, "importance");
    *has_importance = imp != NULL;
    if (imp && (!json_is_number(imp) || json_number_value(imp) < 0 || json_number_value(imp) > 1)) {
        res_error(res, req, DP_ERR_INVALID, "importance must be a number from 0 to 1");
        return DP_ERR_INVALID;
    }
    *importance = imp ? json_number_value(imp) : 0.5;
    return DP_OK;
}

/* Reads occurred_at: absent (*given 0), null ("" in out: cleared) or an RFC 3339 time or a
 * YYYY-MM-DD date (midnight UTC), years 1000–9999; out is the canonical UTC form. */
static int read_occurred(struct request *req, struct response *res, char out[RFC3339_LEN], int *given)
{
    json_t *v = json_object_get(req->json, "occurred_at");
    *given = v != NULL;
    out[0] = 0;
    if (!v || json_is_null(v))
        return DP_OK;
    const char *s = json_string_value(v);
    char full[40];
    int64_t ms;
    if (s && strlen(s) == 10)
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
    else
        snprintf(full, sizeof full, "%s", s && strlen(s) < sizeof full ? s : "");
    if (!s || time_parse_rfc3339(full, &ms) || ms < -30610224000000LL /* 1000-01-01 */ ||
        ms > 253402300799000LL /* 9999-12-31 */) {
        res_error(res, req, DP_ERR_INVALID, "occurred_at must be an RFC 3339 time or a YYYY-MM-DD date, or null");
        return DP_ERR_INVALID;
    }
    time_rfc3339(ms, out);
    return DP_OK;
}

static int list_memories_fill(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = api_page(req, res, &limit, &cursor)))
        return err;
    json_t *items;
    char *next = NULL, msg[128];
    const char *q = req_query(req, "q");
    /* A search reads and ranks up to MEMORY_SEARCH_WINDOW candidates: its own budget per user, so
     * one client cannot keep every worker ranking (the cost cap; --search-rate). */
    long rate = app_get()->cfg.search_rate;
    if (q && *q && rate > 0) {
        char key[96];
        const struct caller *c = api_caller(req);
        snprintf(key, sizeof key, "rl:search:%s", c && *c->user_id ? c->user_id : e.ip ? e.ip : "anon");
        if ((err = api_rate_limit(req, res, e.cache, "search", key, (double)rate, (double)rate * 5)))
            return err;
    }
    if ((err = memory_list(e.db, ref.id, q && *q ? q : NULL, cursor, limit, &items, &next, msg, sizeof msg))) {
        if (err == DP_ERR_INVALID)
            res_error(res, req, err, "%s", msg);
        return err;
    }
    res_json(res, 200, json_pack("{s:o,s:o}", "items", items, "next_cursor", next ? json_string(next) : json_null()));
    free(next);
    return DP_OK;
}

/* The first page without ?q from the cache (the avatar's scope moves on with every memory
 * change); searches always rank afresh. */
static int list_memories(struct request *req, struct response *res)
{
    return api_cached_avatar_read(req, res, "memories", list_memories_fill);
}

static int create_memory(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    const char *text, *kind, *speaker;
    double importance;
    int has_imp, has_when;
    char when[RFC3339_LEN];
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = read_fields(req, res, &text, &kind, &importance, &has_imp, &speaker)) ||
        (err = read_occurred(req, res, when, &has_when)))
        return err;
    if (!text) {
        res_error(res, req, DP_ERR_INVALID, "text is required");
        return DP_ERR_INVALID;
    }
    /* source: where in one of this avatar's recordings it was said (optional). */
    struct memory_source src = {0};
    json_t *sj = json_object_get(req->json, "source");
    char msg[200];
    if (sj && !json_is_null(sj) && (err = clip_source_read(e.db, e.blobs, ref.id, sj, &src, msg, sizeof msg))) {
        if (err == DP_ERR_INVALID)
            res_error(res, req, err, "%s", msg);
        return err;
    }
    src.occurred_at = *when ? when : NULL;
    if ((err = quota_check(e.db, ref.id, 0, 1, msg, sizeof msg))) {
        if (err == DP_ERR_QUOTA)
            res_error(res, req, err, "%s", msg);
        return err;
    }
    json_t *m;
    if ((err = memory_create_with_source(e.db, ref.id, text, kind ? kind : "fact", importance, speaker, &src, &m)))
        return err;
    avatar_cache_forget(e.cache, ref.id); /* its memory count changed */
    quota_forget(e.cache, ref.owner_id);
    res_json(res, 201, m);
    return DP_OK;
}

static int patch_memory(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    const char *text, *kind, *speaker;
    double importance;
    int has_imp, has_when;
    char when[RFC3339_LEN];
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = read_fields(req, res, &text, &kind, &importance, &has_imp, &speaker)) ||
        (err = read_occurred(req, res, when, &has_when)))
        return err;
    json_t *m;
    err = memory_update(e.db, ref.id, req_param(req, "mid"), text, kind, has_imp ? &importance : NULL, speaker,
                        has_when ? when : NULL, api_caller(req)->user_id, &m);
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, err, "the memory changed meanwhile; read it again and retry");
        return err;
    }
    if (err)
        return err;
    avatar_cache_forget(e.cache, ref.id); /* its memory list shows the new text */
    res_json(res, 200, m);
    return DP_OK;
}

static int delete_memory(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = memory_delete(e.db, ref.id, req_param(req, "mid"))))
        return err;
    avatar_cache_forget(e.cache, ref.id); /* its memory count changed */
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static int memory_history(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    json_t *items;
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = memory_versions(e.db, ref.id, req_param(req, "mid"), &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

static const char search_doc[] =
    "{\"parameters\":[{\"name\":\"q\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\","
    "\"maxLength\":1000},\"description\":\"words to search for (BM25-style ranking; items get score and a "
    "highlight with \\u00ab \\u00bb around matches); without q, the memories in order. Searches have a budget "
    "per user (--search-rate a second, bursts of 5 s worth): 429 with Retry-After beyond it\"}],"
    "\"query\":{\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200},\"cursor\":{\"type\":\"string\"}},"
    "\"responses\":{\"200\":\"Page<Memory>\"}}";

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char create_doc[] =
    J({"requestBody" : "MemoryBody", "responses" : {"201" : "Memory"}, "errors" : [ 403, 413, 422 ]});
static const char patch_doc[] =
    J({"requestBody" : "MemoryBody", "responses" : {"200" : "Memory"}, "errors" : [ 403, 409, 422 ]});
static const char delete_doc[] = J({"responses" : {"204" : "-"}, "errors" : [403]});
static const char versions_doc[] = J({"responses" : {"200" : "Page<MemoryVersion>"}});

const struct route memories_routes[] = {
    {"GET", "/api/v1/avatars/{id}/memories", ROUTE_TRY_INLINE, 0, list_memories, "memories",
     "List (in order) or search (?q=, best first, with scores and highlights) an avatar's memories", search_doc, NULL,
     NULL},
    {"POST", "/api/v1/avatars/{id}/memories", ROUTE_JSON, 0, create_memory, "memories",
     "Add a memory {text, kind?: fact|utterance|passage|qa, importance?: 0–1, speaker?, occurred_at?: when it was "
     "said or happened (RFC 3339 or YYYY-MM-DD), source?: {media_id, "
     "start_ms, end_ms} — a span of at most 10 minutes of one of this avatar's audio or video recordings}; 413 "
     "quota_exceeded when the avatar's owner has --quota-memories already",
     create_doc, NULL, NULL},
    {"PATCH", "/api/v1/avatars/{id}/memories/{mid}", ROUTE_JSON, 0, patch_memory, "memories",
     "Edit a memory (a new version; the old one is kept)", patch_doc, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}/memories/{mid}", 0, 0, delete_memory, "memories", "Delete a memory", delete_doc,
     NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/memories/{mid}/versions", 0, 0, memory_history, "memories",
     "Earlier versions of an edited memory, newest first", versions_doc, NULL, NULL},
    {0},
};
