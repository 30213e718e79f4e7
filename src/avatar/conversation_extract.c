/* The conversation.extract job (see conversation_extract.h). */
#include "avatar/conversation_extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/avatar.h"
#include "avatar/extract_job.h"
#include "brain/extract.h"
#include "brain/memory.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "store/db.h"

#define MAX_ATTEMPTS 5
#define RUN_MESSAGES 200 /* owner turns one run reads; more are left for the next run, queued at once */

static long idle_ms = 600000, turns_now = 20;

/* The owner's turns of conv after the high-water mark `after` ("" = all), oldest first. */
static int new_turns(struct db *db, const char *conv, const char *after, struct db_rows **r)
{
    struct db_val p[] = {DB_TEXT(conv), DB_TEXT(after), DB_INT(RUN_MESSAGES)};
    return db_query(db,
                    "SELECT id, text, created_at FROM messages WHERE conversation_id = ? AND role = 'user' AND id > ? "
                    "ORDER BY id LIMIT ?",
                    p, 3, r);
}

static int enqueue(struct db *db, const char *conv, const char *avatar, const char *owner, const char *org,
                   int64_t delay_ms)
{
    json_t *payload = json_pack("{s:s,s:s}", "conversation_id", conv, "avatar_id", avatar);
    int err =
        payload ? job_enqueue_ex(db, "conversation.extract", payload, owner, org, 0, delay_ms, NULL) : DP_ERR_NOMEM;
    json_decref(payload);
    return err;
}

int conversation_extract_turn(struct db *db, const char *conv)
{
    if (!extract_job_enabled())
        return DP_OK;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(conv)};
    int err = db_query(db,
                       "SELECT c.extract_queued, COALESCE(c.extracted_through, ''), a.owner_id, a.org_id, a.id "
                       "FROM conversations c JOIN avatars a ON a.id = c.avatar_id "
                       "WHERE c.id = ? AND c.user_id = a.owner_id AND a.deleted_at IS NULL",
                       p, 1, &r);
    if (err || r->nrows != 1) { /* not the owner's words: nothing to read */
        if (!err)
            db_rows_free(r);
        return err;
    }
    int queued = (int)db_rows_int(r, 0, 0);
    char through[ID_LEN], owner[ID_LEN], org[ID_LEN] = "", avatar[ID_LEN];
    snprintf(through, sizeof through, "%s", db_rows_text(r, 0, 1));
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 4));
    snprintf(owner, sizeof owner, "%s", db_rows_text(r, 0, 2));
    if (!db_rows_is_null(r, 0, 3))
        snprintf(org, sizeof org, "%s", db_rows_text(r, 0, 3));
    db_rows_free(r);
    if (queued >= 2)
        return DP_OK; /* an immediate job is waiting already */
    /* Enough turns piled up: read them without waiting for quiet (counted, not read). */
    struct db_rows *t;
    struct db_val c[] = {DB_TEXT(conv), DB_TEXT(through), DB_INT(turns_now)};
    if ((err = db_query(db,
                        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user' "
                        "AND id > ? LIMIT ?) t",
                        c, 3, &t)))
        return err;
    int now = db_rows_int(t, 0, 0) >= turns_now;
    db_rows_free(t);
    if (queued >= (now ? 2 : 1))
        return DP_OK; /* a job is waiting already (an immediate one, or one that will see these turns) */
    /* Claimed with a compare-and-set, so two turns at once queue one job. */
    struct db_val u[] = {DB_INT(now ? 2 : 1), DB_TEXT(conv), DB_INT(queued)};
    if ((err =
             db_query(db, "UPDATE conversations SET extract_queued = ? WHERE id = ? AND extract_queued = ?", u, 3, &r)))
        return err;
    int64_t changed = r->changes;
    db_rows_free(r);
    return changed ? enqueue(db, conv, avatar, owner, *org ? org : NULL, now ? 0 : idle_ms) : DP_OK;
}

/* The turns a chunk was made of, and the last list of ids cite_turns made. */
struct turns_cite {
    struct db_rows *rows;
    int first, last;
    char *ids;
};

/* A fact cites the turns of the chunk it shares its words with (all of them when none: the model
 * put it in its own words), said when the first of them was. */
static void cite_turns(void *arg, const char *fact, struct memory_source *src)
{
    struct turns_cite *tc = arg;
    int n = tc->last - tc->first + 1;
    const char *texts[RUN_MESSAGES];
    int picked[RUN_MESSAGES];
    if (!fact || n <= 0 || n > RUN_MESSAGES)
        return;
    for (int i = 0; i < n; i++)
        texts[i] = db_rows_text(tc->rows, tc->first + i, 1);
    if (!extract_fact_lines(fact, texts, n, picked))
        return;
    json_t *ids = json_array();
    const char *said = NULL;
    for (int i = 0; i < n; i++)
        if (picked[i]) {
            json_array_append_new(ids, json_string(db_rows_text(tc->rows, tc->first + i, 0)));
            said = said ? said : db_rows_text(tc->rows, tc->first + i, 2);
        }
    char *list = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    if (!list)
        return;
    free(tc->ids);
    tc->ids = list;
    src->message_ids = list;
    src->occurred_at = said;
}

/* The facts chunk (the turns first..last of rows) states; each cites those messages. */
static int extract_chunk(struct job_ctx *ctx, const char *conv, const char *avatar, const char *name, int self,
                         struct db_rows *rows, int first, int last, struct extract_count *count, char *msg,
                         size_t msglen, char **error_msg, int *error_owned)
{
    struct buf text;
    buf_init(&text, 0);
    /* Who "I" and "you" are in the turns: the person speaking, or the owner speaking to them. */
    char head[AVATAR_NAME_MAX * 8 + 128];
    snprintf(head, sizeof head,
             self ? "What %s said in a conversation (\"I\" is %s), one message a line:\n"
                  : "What %s was told in a conversation (\"you\" is %s), one message a line:\n",
             name, name);
    buf_append(&text, head, strlen(head));
    json_t *ids = json_array();
    for (int i = first; i <= last; i++) {
        const char *t = db_rows_text(rows, i, 1);
        buf_append(&text, t, strlen(t));
        buf_append(&text, "\n", 1);
        json_array_append_new(ids, json_string(db_rows_text(rows, i, 0)));
    }
    json_t *facts = NULL, *traits = NULL;
    char why[256] = "";
    int err = extract_facts(name, text.data, &facts, &traits, why, sizeof why);
    buf_cleanup(&text);
    char *list = json_dumps(ids, JSON_COMPACT);
    struct memory_source said = {NULL, 0, 0, db_rows_text(rows, first, 2), conv, list};
    int err2 = !list                                     ? DP_ERR_NOMEM
               : (err == DP_OK || err == DP_ERR_INVALID) ? extract_job_traits(ctx->db, avatar, traits, &said, count)
                                                         : DP_OK;
    if (err == DP_ERR_INVALID) {
        DP_LOG(LOG_WARN, "[extract] conversation %s: %s", conv, why);
        err = DP_OK; /* turns the model finds no facts in */
    } else if (err) {
        *error_msg = strdup(why[0] ? why : dp_strerror(err));
        *error_owned = *error_msg != NULL;
    } else if (!err2) {
        struct turns_cite tc = {rows, first, last, NULL};
        err = extract_job_apply(ctx->db, avatar, facts, &said, cite_turns, &tc, count, msg, msglen);
        free(tc.ids);
    }
    if (!err)
        err = err2;
    free(list);
    json_decref(facts);
    json_decref(traits);
    json_decref(ids);
    return err;
}

static int conversation_extract(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    const char *conv = json_string_value(json_object_get(ctx->payload, "conversation_id"));
    if (!conv || !id_valid(conv)) {
        *error_msg = "payload has no conversation_id";
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(conv)};
    int err = db_query(ctx->db,
                       "SELECT c.avatar_id, COALESCE(c.extracted_through, ''), a.name, a.kind, c.updated_at "
                       "FROM conversations c JOIN avatars a ON a.id = c.avatar_id "
                       "WHERE c.id = ? AND c.user_id = a.owner_id AND a.deleted_at IS NULL",
                       p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_OK; /* gone meanwhile, or no longer the owner's */
    }
    char avatar[ID_LEN], through[ID_LEN], name[AVATAR_NAME_MAX * 4 + 1];
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 0));
    snprintf(through, sizeof through, "%s", db_rows_text(r, 0, 1));
    snprintf(name, sizeof name, "%s", db_rows_text(r, 0, 2));
    int self = !strcmp(db_rows_text(r, 0, 3), "self");
    int64_t last_at = 0;
    time_parse_rfc3339(db_rows_text(r, 0, 4), &last_at);
    db_rows_free(r);
    struct db_rows *t;
    if ((err = new_turns(ctx->db, conv, through, &t)))
        return err;
    int64_t quiet = time_now_ms() - last_at;
    if (t->nrows && t->nrows < turns_now && quiet < idle_ms) {
        /* Still being talked in: look again once it has been quiet long enough (this job's claim
         * on the conversation passes to the next). */
        db_rows_free(t);
        struct db_rows *o;
        struct db_val q[] = {DB_TEXT(conv)};
        if ((err = db_query(ctx->db,
                            "SELECT a.owner_id, a.org_id FROM conversations c JOIN avatars a ON a.id = c.avatar_id "
                            "WHERE c.id = ?",
                            q, 1, &o)))
            return err;
        if (o->nrows == 1)
            err = enqueue(ctx->db, conv, avatar, db_rows_text(o, 0, 0),
                          db_rows_is_null(o, 0, 1) ? NULL : db_rows_text(o, 0, 1), idle_ms - quiet);
        db_rows_free(o);
        return err;
    }
    struct extract_count count = {0, 0, 0, 0};
    char quota_msg[200] = "";
    int first = 0;
    size_t bytes = 0;
    for (int i = 0; i < t->nrows && !err && !job_should_stop(ctx); i++) {
        bytes += strlen(db_rows_text(t, i, 1)) + 1;
        int full = i + 1 == t->nrows || bytes + strlen(db_rows_text(t, i + 1, 1)) + 1 > EXTRACT_CHUNK_MAX;
        if (!full)
            continue;
        err = extract_chunk(ctx, conv, avatar, name, self, t, first, i, &count, quota_msg, sizeof quota_msg, error_msg,
                            error_owned);
        first = i + 1, bytes = 0;
    }
    if (job_should_stop(ctx) && !err)
        err = DP_ERR_CANCELLED;
    if (!err) {
        /* The high-water mark moves past what was read; the claim is let go, and turns that came in
         * while the model read queue the next run. */
        struct db_val u[] = {DB_TEXT(t->nrows ? db_rows_text(t, t->nrows - 1, 0) : (*through ? through : NULL)),
                             DB_TEXT(conv)};
        err = db_query(ctx->db, "UPDATE conversations SET extracted_through = ?, extract_queued = 0 WHERE id = ?", u, 2,
                       NULL);
        struct db_rows *more;
        if (!err && t->nrows && !(err = new_turns(ctx->db, conv, db_rows_text(t, t->nrows - 1, 0), &more))) {
            int again = more->nrows > 0;
            db_rows_free(more);
            if (again)
                err = conversation_extract_turn(ctx->db, conv);
        }
    }
    db_rows_free(t);
    if (err && err != DP_ERR_CANCELLED && ctx->attempt >= MAX_ATTEMPTS) {
        /* The last attempt: let the claim go, so that a later turn queues the conversation again. */
        struct db_val u[] = {DB_TEXT(conv)};
        db_query(ctx->db, "UPDATE conversations SET extract_queued = 0 WHERE id = ?", u, 1, NULL);
    }
    return extract_job_finish(ctx, avatar, "conversation", conv, &count, err, quota_msg, error_msg);
}

void conversation_extract_register(long idle_s, long turns)
{
    idle_ms = idle_s * 1000;
    turns_now = turns;
    jobs_register("conversation.extract", conversation_extract, MAX_ATTEMPTS);
}
