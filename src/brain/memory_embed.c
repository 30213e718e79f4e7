/* Making and storing memory vectors. A vector is written only while the memory still holds the
 * text it was made from (a concurrent edit wins; its own embedding follows). */
#include "brain/memory_embed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/vectors.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "providers/embed.h"
#include "store/db.h"

#define BACKFILL_EVERY_MS 60000

static int store_vector(struct db *db, const char *memory_id, const char *text, const char *model, const float *v,
                        int dims)
{
    unsigned char *blob = malloc((size_t)dims * 4);
    if (!blob)
        return DP_ERR_NOMEM;
    vectors_to_blob(v, dims, blob);
    struct db_val p[] = {DB_BLOB(blob, (size_t)dims * 4), DB_TEXT(model), DB_TEXT(memory_id), DB_TEXT(text)};
    int err =
        db_query(db, "UPDATE memories SET embedding = ?, embedding_model = ? WHERE id = ? AND text = ?", p, 4, NULL);
    free(blob);
    return err;
}

void memory_embed_after_write(struct db *db, const char *avatar_id, const char *memory_id)
{
    struct embedder *e = embed_current();
    if (!e)
        return;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(memory_id), DB_TEXT(avatar_id)};
    if (db_query(db, "SELECT text FROM memories WHERE id = ? AND avatar_id = ?", p, 2, &r))
        return;
    float *v = NULL;
    int dims = 0;
    char why[200] = "";
    int err = r->nrows == 1 ? embed_one(e, db_rows_text(r, 0, 0), &v, &dims, why, sizeof why) : DP_ERR_NOT_FOUND;
    if (!err)
        err = store_vector(db, memory_id, db_rows_text(r, 0, 0), e->model, v, dims);
    db_rows_free(r);
    free(v);
    if (err && err != DP_ERR_NOT_FOUND) {
        DP_LOG(LOG_WARN, "[memory] no vector for memory %s yet (%s); the memory.embed job will retry", memory_id,
               why[0] ? why : dp_strerror(err));
        memory_embed_backfill(db, avatar_id, 0);
    }
}

/* When each avatar's backfill was last queued by this process (a small direct-mapped table:
 * a collision only means an extra, harmless job). */
static struct {
    char avatar[ID_LEN];
    int64_t at_ms;
} queued[64];
static pthread_mutex_t queued_lock = PTHREAD_MUTEX_INITIALIZER;

void memory_embed_backfill(struct db *db, const char *avatar_id, int fresh)
{
    if (!embed_current())
        return;
    int slot = (int)(hash_fnv1a(avatar_id, strlen(avatar_id)) % 64), due;
    int64_t now = time_now_ms();
    pthread_mutex_lock(&queued_lock);
    due = fresh || strcmp(queued[slot].avatar, avatar_id) != 0 || now - queued[slot].at_ms >= BACKFILL_EVERY_MS;
    if (due) {
        snprintf(queued[slot].avatar, ID_LEN, "%s", avatar_id);
        queued[slot].at_ms = now;
    }
    pthread_mutex_unlock(&queued_lock);
    if (!due)
        return;
    json_t *payload = json_pack("{s:s}", "avatar_id", avatar_id);
    if (job_enqueue(db, "memory.embed", payload, NULL, NULL, NULL))
        DP_LOG(LOG_WARN, "[memory] cannot queue memory.embed for avatar %s", avatar_id);
    json_decref(payload);
}

/* Vectors for rows (id, text) of memories (at most EMBED_BATCH_MAX), in one provider call. */
static int embed_rows(struct db *db, struct embedder *e, const struct db_rows *r, char *why, size_t whylen)
{
    const char *texts[EMBED_BATCH_MAX];
    for (int i = 0; i < r->nrows; i++)
        texts[i] = db_rows_text(r, i, 1);
    float *v = NULL;
    int dims = 0;
    int err = r->nrows ? embed_many(e, texts, r->nrows, &v, &dims, why, whylen) : DP_OK;
    for (int i = 0; i < r->nrows && !err; i++)
        err = store_vector(db, db_rows_text(r, i, 0), texts[i], e->model, v + (size_t)i * (size_t)dims, dims);
    free(v);
    return err;
}

/* One batch: up to EMBED_BATCH_MAX memories without a vector of the current model. *done is
 * set when none is left. */
static int embed_batch(struct job_ctx *ctx, struct embedder *e, const char *avatar_id, int *done, char *why,
                       size_t whylen)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(e->model), DB_INT(EMBED_BATCH_MAX)};
    int err = db_query(ctx->db,
                       "SELECT id, text FROM memories WHERE avatar_id = ? AND (embedding IS NULL OR "
                       "embedding_model IS NULL OR embedding_model <> ?) ORDER BY id LIMIT ?",
                       p, 3, &r);
    if (err)
        return err;
    *done = r->nrows == 0;
    err = embed_rows(ctx->db, e, r, why, whylen);
    db_rows_free(r);
    return err;
}

static int memory_embed_job(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    struct embedder *e = embed_current();
    const char *avatar_id = json_string_value(json_object_get(ctx->payload, "avatar_id"));
    if (!e || !avatar_id)
        return DP_OK; /* nothing to make vectors with, or nothing to make them for */
    char why[200] = "";
    int done = 0, err = DP_OK;
    while (!done && !err && !job_should_stop(ctx))
        err = embed_batch(ctx, e, avatar_id, &done, why, sizeof why);
    if (err) {
        *error_msg = strdup(why[0] ? why : dp_strerror(err));
        *error_owned = *error_msg != NULL;
    }
    if (!err && !done)
        err = DP_ERR_CANCELLED;
    return err;
}

/* What lacks a vector of the current model, anywhere: none yet, or one of another model. */
#define STALE "(embedding IS NULL OR embedding_model IS NULL OR embedding_model <> ?)"

/* The memory.reembed job: every memory without a vector of the current model, every avatar, 64
 * at a time in id order (a restarted attempt starts over, skipping what is done), with progress. */
static int memory_reembed_job(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    struct embedder *e = embed_current();
    if (!e)
        return DP_OK;
    struct db_rows *r;
    struct db_val m[] = {DB_TEXT(e->model)};
    int err = db_query(ctx->db, "SELECT COUNT(*) FROM memories WHERE " STALE, m, 1, &r);
    if (err)
        return err;
    int64_t total = db_rows_int(r, 0, 0), done = 0;
    db_rows_free(r);
    char after[ID_LEN] = "", why[200] = "";
    while (!err && !job_should_stop(ctx)) {
        struct db_val p[] = {DB_TEXT(e->model), DB_TEXT(after), DB_INT(EMBED_BATCH_MAX)};
        if ((err = db_query(ctx->db, "SELECT id, text FROM memories WHERE " STALE " AND id > ? ORDER BY id LIMIT ?", p,
                            3, &r)))
            break;
        if (!r->nrows) {
            db_rows_free(r);
            break;
        }
        err = embed_rows(ctx->db, e, r, why, sizeof why);
        snprintf(after, sizeof after, "%s", db_rows_text(r, r->nrows - 1, 0));
        done += r->nrows;
        db_rows_free(r);
        /* New memories meanwhile may push done past the count taken at the start. */
        job_progress(ctx, total > 0 && done < total ? (int)(done * 100 / total) : 99);
    }
    if (err) {
        *error_msg = strdup(why[0] ? why : dp_strerror(err));
        *error_owned = *error_msg != NULL;
        return err;
    }
    if (job_should_stop(ctx))
        return DP_ERR_CANCELLED;
    job_progress(ctx, 100);
    DP_LOG(LOG_INFO, "[memory] vectors of model %s made for %lld memories", e->model, (long long)done);
    return DP_OK;
}

int memory_embed_sweep(struct db *db, char id_out[ID_LEN])
{
    id_out[0] = 0;
    struct embedder *e = embed_current();
    if (!e)
        return DP_OK;
    struct db_rows *r;
    struct db_val m[] = {DB_TEXT(e->model)};
    int err = db_query(db, "SELECT 1 FROM memories WHERE " STALE " LIMIT 1", m, 1, &r);
    if (err)
        return err;
    int stale = r->nrows > 0;
    db_rows_free(r);
    if (!stale)
        return DP_OK;
    json_t *payload = json_pack("{s:s}", "model", e->model);
    err = job_enqueue(db, "memory.reembed", payload, NULL, NULL, id_out);
    json_decref(payload);
    if (!err)
        DP_LOG(LOG_INFO, "[memory] memories without a vector of model %s: job memory.reembed %s makes them", e->model,
               id_out);
    return err;
}

void memory_embed_register(void)
{
    jobs_register("memory.embed", memory_embed_job, 8);
    jobs_register("memory.reembed", memory_reembed_job, 20);
}
