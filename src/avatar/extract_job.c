/* The memory.extract job (see extract_job.h): chunk by chunk, facts from the model, each applied
 * (added, updated as a new version, or left) within the owner's memory quota. Idempotent: a second
 * run finds its facts already there and changes nothing. */
#include "avatar/extract_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/avatar.h"
#include "avatar/personality_evidence.h"
#include "avatar/personality_store.h"
#include "avatar/quota.h"
#include "brain/extract.h"
#include "brain/memory.h"
#include "core/err.h"
#include "core/log.h"
#include "jobs/jobs.h"
#include "providers/llm.h"
#include "store/cache.h"
#include "store/db.h"

static int extract_enabled;

struct quota_ctx {
    struct db *db;
    const char *avatar_id;
    char msg[200];
};

static int may_add(void *arg)
{
    struct quota_ctx *q = arg;
    return quota_check(q->db, q->avatar_id, 0, 1, q->msg, sizeof q->msg);
}

/* A fact heard in a recording cites the utterances of the chunk it shares its words with (all of
 * them when none: the model put it in its own words), from the first one's start to the last's end. */
static void cite_lines(void *arg, const char *fact, struct memory_source *src)
{
    json_t *lines = json_object_get(arg, "lines");
    int n = (int)json_array_size(lines);
    if (!fact || n <= 0 || n > 100000)
        return;
    const char **texts = malloc((size_t)n * sizeof *texts);
    int *picked = malloc((size_t)n * sizeof *picked);
    for (int i = 0; texts && i < n; i++)
        texts[i] = json_string_value(json_object_get(json_array_get(lines, (size_t)i), "text"));
    if (texts && picked && extract_fact_lines(fact, texts, n, picked)) {
        int first = -1;
        for (int i = 0; i < n; i++) {
            if (!picked[i])
                continue;
            json_t *l = json_array_get(lines, (size_t)i);
            int64_t end = json_integer_value(json_object_get(l, "end_ms"));
            if (first < 0) {
                first = i;
                src->start_ms = json_integer_value(json_object_get(l, "start_ms"));
                src->occurred_at = json_string_value(json_object_get(l, "occurred_at"));
            }
            src->end_ms = end;
        }
    }
    free(texts);
    free(picked);
}

static int memory_extract(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    const char *media = json_string_value(json_object_get(ctx->payload, "media_id"));
    const char *avatar = json_string_value(json_object_get(ctx->payload, "avatar_id"));
    if (!media || !avatar) {
        *error_msg = "payload has no media_id or avatar_id";
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar)};
    int err = db_query(ctx->db, "SELECT name FROM avatars WHERE id = ? AND deleted_at IS NULL", p, 1, &r);
    if (err)
        return err;
    char name[AVATAR_NAME_MAX * 4 + 1] = "";
    if (r->nrows == 1)
        snprintf(name, sizeof name, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    if (!*name)
        return DP_OK; /* deleted meanwhile */
    json_t *chunks;
    if ((err = extract_media_chunks(ctx->db, media, &chunks)))
        return err;
    struct quota_ctx q = {ctx->db, avatar, ""};
    struct extract_count count = {0, 0, 0, 0};
    size_t n = json_array_size(chunks);
    int err2;
    for (size_t i = 0; i < n && !err && !job_should_stop(ctx); i++) {
        json_t *facts = NULL, *traits = NULL, *chunk = json_array_get(chunks, i);
        char why[256] = "";
        err = extract_facts(name, json_string_value(json_object_get(chunk, "text")), &facts, &traits, why, sizeof why);
        struct memory_source from = {media, 0, 0, NULL, NULL, NULL};
        if ((err == DP_OK || err == DP_ERR_INVALID) &&
            (err2 = extract_job_traits(ctx->db, avatar, traits, &from, &count)))
            err = err2;
        json_decref(traits);
        if (err == DP_ERR_INVALID) {
            DP_LOG(LOG_WARN, "[extract] media %s, chunk %zu: %s", media, i + 1, why);
            err = DP_OK; /* a chunk the model says nothing usable about: the next may */
            continue;
        }
        if (err) {
            *error_msg = strdup(why[0] ? why : dp_strerror(err));
            *error_owned = *error_msg != NULL;
            json_decref(facts);
            break;
        }
        /* A fact heard in a recording cites the stretch of it the model read, and its time. */
        struct memory_source heard = {media,
                                      json_integer_value(json_object_get(chunk, "start_ms")),
                                      json_integer_value(json_object_get(chunk, "end_ms")),
                                      json_string_value(json_object_get(chunk, "occurred_at")),
                                      NULL,
                                      NULL};
        const struct memory_source *source = json_object_get(chunk, "start_ms") ? &heard : NULL;
        err = extract_job_apply(ctx->db, avatar, facts, source, cite_lines, chunk, &count, q.msg, sizeof q.msg);
        json_decref(facts);
        job_progress(ctx, (int)(100 * (i + 1) / (n ? n : 1)));
    }
    json_decref(chunks);
    return extract_job_finish(ctx, avatar, "media", media, &count, err, q.msg, error_msg);
}

int extract_job_apply(struct db *db, const char *avatar_id, json_t *facts, const struct memory_source *source,
                      extract_cite_fn cite, void *cite_arg, struct extract_count *count, char *msg, size_t msglen)
{
    struct quota_ctx q = {db, avatar_id, ""};
    size_t k;
    json_t *f;
    int err = DP_OK;
    json_array_foreach (facts, k, f) {
        enum extract_action did;
        struct memory_source narrowed = source ? *source : (struct memory_source){0};
        if (source && cite)
            cite(cite_arg, json_string_value(json_object_get(f, "text")), &narrowed);
        if ((err = extract_apply(db, avatar_id, f, source ? &narrowed : NULL, may_add, &q, &did)))
            break;
        count->added += did == EXTRACT_ADD, count->updated += did == EXTRACT_UPDATE, count->same += did == EXTRACT_NONE;
    }
    if (err == DP_ERR_QUOTA)
        snprintf(msg, msglen, "%s", q.msg);
    return err;
}

int extract_job_traits(struct db *db, const char *avatar_id, json_t *traits, const struct memory_source *source,
                       struct extract_count *count)
{
    int added = 0, err = personality_evidence_add(db, avatar_id, traits, source, &added);
    count->traits += added;
    return err;
}

int extract_job_finish(struct job_ctx *ctx, const char *avatar_id, const char *what, const char *id,
                       const struct extract_count *count, int err, const char *quota_msg, char **error_msg)
{
    if (count->traits) { /* the profile refreshed from the new evidence, stored as a new sample's would be */
        int perr = personality_store_refresh(ctx->db, avatar_id);
        if (perr)
            DP_LOG(LOG_WARN, "[extract] %s %s: the profile was not stored: %s", what, id, dp_strerror(perr));
    }
    if (count->added + count->updated + count->traits) /* even when a later fact failed: these are stored */
        avatar_cache_forget(ctx->cache, avatar_id);
    if (err == DP_ERR_QUOTA) {
        DP_LOG(LOG_WARN, "[extract] %s %s: %s", what, id, quota_msg);
        *error_msg = "the owner's memory quota is reached";
        return DP_ERR_QUOTA;
    }
    DP_LOG(LOG_INFO, "[extract] %s %s: %d fact(s) added, %d updated, %d known already; %d trait evidence", what, id,
           count->added, count->updated, count->same, count->traits);
    return err;
}

int extract_job_enabled(void)
{
    return extract_enabled && llm_current() != NULL;
}

void extract_job_register(int enabled)
{
    extract_enabled = enabled;
    jobs_register("memory.extract", memory_extract, 4);
}

int extract_job_enqueue(struct db *db, const char *avatar_id, const char *media_id)
{
    if (!extract_job_enabled())
        return DP_OK;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT owner_id, org_id FROM avatars WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    json_t *payload = json_pack("{s:s,s:s}", "media_id", media_id, "avatar_id", avatar_id);
    if (r->nrows == 1)
        err = job_enqueue(db, "memory.extract", payload, db_rows_text(r, 0, 0),
                          db_rows_is_null(r, 0, 1) ? NULL : db_rows_text(r, 0, 1), NULL);
    json_decref(payload);
    db_rows_free(r);
    return err;
}
