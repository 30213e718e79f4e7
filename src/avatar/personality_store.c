/* Personality profiles from the database: gathers the avatar's own words, analyses them. */
#include "avatar/personality_store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/avatar.h"
#include "avatar/personality.h"
#include "avatar/personality_evidence.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/id.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "ingest/dialogue.h"

#define OWN_ROWS_MAX 20000 /* memories read for own words at most */

/* The samples being gathered: texts (owned), and what each came from. */
struct gather {
    char **texts;
    int n, cap;
    size_t bytes;
    int samples, media, transcripts;
};

/* Adds b's text as one sample (taken; b is reset). */
static int gather_add(struct gather *g, struct buf *b)
{
    if (!b->len)
        return DP_OK;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 16;
        char **t = realloc(g->texts, (size_t)cap * sizeof *t);
        if (!t)
            return DP_ERR_NOMEM;
        g->texts = t;
        g->cap = cap;
    }
    g->texts[g->n++] = buf_steal(b, NULL);
    return DP_OK;
}

static void gather_cleanup(struct gather *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->texts[i]);
    free(g->texts);
}

/* Appends a line of own words to b within the overall byte budget; 1 when the budget is spent. */
static int take_line(struct gather *g, struct buf *b, const char *text, int *err)
{
    size_t n = strlen(text);
    if (g->bytes + n + 1 > PERSONALITY_INPUT_MAX)
        return 1;
    *err = buf_printf(b, "%s%s", b->len ? "\n" : "", text);
    g->bytes += n + 1;
    return 0;
}

/* The rows being sorted by by_group_and_seq (qsort has no context argument; one sort at a time
 * per thread). */
static _Thread_local struct db_rows *sort_rows;

/* Row order by (group, seq) of (group, text, speaker, seq) rows. */
static int by_group_and_seq(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    const char *gi = db_rows_text(sort_rows, i, 0), *gj = db_rows_text(sort_rows, j, 0);
    int c = strcmp(gi ? gi : "", gj ? gj : "");
    if (c)
        return c;
    int64_t si = db_rows_int(sort_rows, i, 3), sj = db_rows_int(sort_rows, j, 3);
    return si < sj ? -1 : si > sj ? 1 : i - j;
}

/* Rows (group, text[, speaker]) in group order (order[k] is the k-th row; NULL: as they are)
 * become one sample per group; with speaker_of set, only the rows whose speaker (column 2) is that
 * avatar's. */
static int gather_groups(struct gather *g, struct db_rows *r, const int *order, const char *speaker_of, int *groups)
{
    struct buf b;
    buf_init(&b, 0);
    int err = DP_OK, full = 0;
    const char *group = NULL;
    for (int k = 0; k < r->nrows && !err && !full; k++) {
        int i = order ? order[k] : k;
        if (speaker_of && !dialogue_speaker_is_self(db_rows_text(r, i, 2), speaker_of))
            continue;
        const char *gi = db_rows_text(r, i, 0);
        if (group && gi && strcmp(group, gi)) {
            if (b.len)
                ++*groups;
            err = gather_add(g, &b);
        }
        group = gi;
        if (!err)
            full = take_line(g, &b, db_rows_text(r, i, 1), &err);
    }
    if (!err && b.len) {
        ++*groups;
        err = gather_add(g, &b);
    }
    buf_cleanup(&b);
    return err;
}

static int gather_all(struct db *db, const char *avatar_id, struct gather *g)
{
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT name FROM avatars WHERE id = ?", a, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    char *name = strdup(db_rows_text(r, 0, 0));
    db_rows_free(r);
    if (!name)
        return DP_ERR_NOMEM;
    /* 1. Samples posted for training, each one sample. */
    if ((err = db_query(db, "SELECT id, text FROM personality_samples WHERE avatar_id = ? ORDER BY id", a, 1, &r)))
        goto out;
    for (int i = 0; i < r->nrows && !err; i++) {
        struct buf b;
        buf_init(&b, 0);
        int full = take_line(g, &b, db_rows_text(r, i, 1), &err);
        if (!err && !full && b.len) {
            g->samples++;
            err = gather_add(g, &b);
        }
        buf_cleanup(&b);
        if (full)
            break;
    }
    db_rows_free(r);
    if (err)
        goto out;
    /* 2. The passages of media marked as the avatar's own words, a sample per media item (each
     * read by the memories' media index, never by a scan of the avatar). */
    struct db_val lim[] = {DB_TEXT(avatar_id), DB_INT(OWN_ROWS_MAX)};
    struct db_rows *marked;
    if ((err = db_query(db, "SELECT id FROM media WHERE avatar_id = ? AND own_words = 1 ORDER BY id LIMIT ?", lim, 2,
                        &marked)))
        goto out;
    for (int i = 0; i < marked->nrows && !err; i++) {
        struct db_val m[] = {DB_TEXT(db_rows_text(marked, i, 0)), DB_INT(OWN_ROWS_MAX)};
        if ((err = db_query(db,
                            "SELECT media_id, text FROM memories WHERE media_id = ? AND kind = 'passage' ORDER BY "
                            "seq, id LIMIT ?",
                            m, 2, &r)))
            break;
        err = gather_groups(g, r, NULL, NULL, &g->media);
        db_rows_free(r);
    }
    db_rows_free(marked);
    if (err)
        goto out;
    /* 3. The avatar's own lines of every transcript (imported ones too), a sample per dialogue:
     * the first OWN_ROWS_MAX utterances in the order they were stored, grouped here. */
    if ((err = db_query(db,
                        "SELECT COALESCE(media_id, dialogue), text, speaker, seq FROM memories WHERE avatar_id = ? "
                        "AND kind = 'utterance' AND speaker IS NOT NULL ORDER BY id LIMIT ?",
                        lim, 2, &r)))
        goto out;
    int *order = malloc(((size_t)r->nrows + 1) * sizeof *order);
    if (!order) {
        db_rows_free(r);
        err = DP_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < r->nrows; i++)
        order[i] = i;
    sort_rows = r;
    qsort(order, (size_t)r->nrows, sizeof *order, by_group_and_seq);
    sort_rows = NULL;
    err = gather_groups(g, r, order, name, &g->transcripts);
    free(order);
    db_rows_free(r);
out:
    free(name);
    return err;
}

int personality_profile(struct db *db, const char *avatar_id, json_t **out)
{
    struct gather g = {0};
    int err = gather_all(db, avatar_id, &g);
    if (err) {
        gather_cleanup(&g);
        return err;
    }
    json_t *p = personality_analyse((const char *const *)g.texts, g.n);
    if (p)
        json_object_set_new(
            p, "sources",
            json_pack("{s:i,s:i,s:i}", "samples", g.samples, "media", g.media, "transcripts", g.transcripts));
    gather_cleanup(&g);
    if (!p)
        return DP_ERR_NOMEM;
    /* What --llm-extract's model saw of the person, blended in (personality_evidence.h). */
    if ((err = personality_evidence_blend(db, avatar_id, p))) {
        json_decref(p);
        return err;
    }
    *out = p;
    return DP_OK;
}

/* The way of speaking is read from every one of the avatar's own words: too costly for every
 * turn of a conversation. It is remembered per avatar with the generation of what it was read
 * from — the avatar's name and memory revision (moved by every memory write, transcripts
 * included), its samples, its media marked as own words — checked by one small query, so a
 * change made by any instance shows at the next turn. */
#define VOICE_SLOTS 64
static struct {
    char avatar[ID_LEN];
    char gen[256];
    char opening[32];
    double formality;
} voice_memo[VOICE_SLOTS];
static pthread_mutex_t voice_lock = PTHREAD_MUTEX_INITIALIZER;

static int voice_generation(struct db *db, const char *avatar_id, char gen[256])
{
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id), DB_TEXT(avatar_id), DB_TEXT(avatar_id), DB_TEXT(avatar_id),
                         DB_TEXT(avatar_id)};
    int err = db_query(db,
                       "SELECT name, memory_rev, (SELECT COUNT(*) FROM personality_samples WHERE avatar_id = ?), "
                       "(SELECT MAX(id) FROM personality_samples WHERE avatar_id = ?), "
                       "(SELECT COUNT(*) FROM media WHERE avatar_id = ? AND own_words = 1), "
                       "(SELECT MAX(updated_at) FROM media WHERE avatar_id = ? AND own_words = 1) "
                       "FROM avatars WHERE id = ?",
                       a, 5, &r);
    if (err)
        return err;
    if (r->nrows != 1)
        err = DP_ERR_NOT_FOUND;
    else
        snprintf(gen, 256, "%.100s|%s|%s|%s|%s|%s", db_rows_text(r, 0, 0), db_rows_text(r, 0, 1), db_rows_text(r, 0, 2),
                 db_rows_is_null(r, 0, 3) ? "" : db_rows_text(r, 0, 3), db_rows_text(r, 0, 4),
                 db_rows_is_null(r, 0, 5) ? "" : db_rows_text(r, 0, 5));
    db_rows_free(r);
    return err;
}

int personality_voice(struct db *db, const char *avatar_id, char opening[32], double *formality)
{
    opening[0] = 0;
    *formality = 0.5;
    char gen[256];
    int err = voice_generation(db, avatar_id, gen);
    if (err)
        return err;
    unsigned slot = (unsigned)(hash_fnv1a(avatar_id, strlen(avatar_id)) % VOICE_SLOTS);
    pthread_mutex_lock(&voice_lock);
    int hit = !strcmp(voice_memo[slot].avatar, avatar_id) && !strcmp(voice_memo[slot].gen, gen);
    if (hit) {
        memcpy(opening, voice_memo[slot].opening, 32);
        *formality = voice_memo[slot].formality;
    }
    pthread_mutex_unlock(&voice_lock);
    if (hit)
        return DP_OK;
    struct gather g = {0};
    err = gather_all(db, avatar_id, &g);
    if (!err)
        personality_voice_of((const char *const *)g.texts, g.n, opening, formality);
    gather_cleanup(&g);
    if (err)
        return err;
    pthread_mutex_lock(&voice_lock);
    snprintf(voice_memo[slot].avatar, ID_LEN, "%s", avatar_id);
    snprintf(voice_memo[slot].gen, sizeof voice_memo[slot].gen, "%s", gen);
    memcpy(voice_memo[slot].opening, opening, 32);
    voice_memo[slot].formality = *formality;
    pthread_mutex_unlock(&voice_lock);
    return DP_OK;
}

/* Stores the profile of avatar_id as its current one. */
static int store_profile(struct db *db, const char *avatar_id, json_t *profile, const char *now)
{
    char *ps = json_dump_display(profile, NULL);
    if (!ps)
        return DP_ERR_NOMEM;
    struct db_rows *r = NULL;
    struct db_val up[] = {DB_TEXT(ps), DB_TEXT(now), DB_TEXT(avatar_id)};
    struct db_val ins[] = {DB_TEXT(avatar_id), DB_TEXT(ps), DB_TEXT(now)};
    int err = db_query(db, "UPDATE avatar_profiles SET personality = ?, updated_at = ? WHERE avatar_id = ?", up, 3, &r);
    int updated = !err && r->changes == 1;
    db_rows_free(r);
    if (!err && !updated)
        err = db_query(db, "INSERT INTO avatar_profiles (avatar_id, personality, updated_at) VALUES (?, ?, ?)", ins, 3,
                       NULL);
    free(ps);
    return err;
}

int personality_store_refresh(struct db *db, const char *avatar_id)
{
    json_t *profile = NULL;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    int err = personality_profile(db, avatar_id, &profile);
    if (!err)
        err = store_profile(db, avatar_id, profile, now);
    json_decref(profile);
    return err;
}

int personality_add_sample(struct db *db, const char *avatar_id, const char *text, char id[ID_LEN], json_t **profile)
{
    char now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    *profile = NULL;
    int err = db_begin(db);
    if (err)
        return err;
    struct db_rows *r = NULL;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    struct db_val ins[] = {DB_TEXT(id), DB_TEXT(avatar_id), DB_TEXT(text), DB_TEXT(now)};
    if (!(err = db_query(db, "SELECT COUNT(*) FROM personality_samples WHERE avatar_id = ?", a, 1, &r)) &&
        db_rows_int(r, 0, 0) >= PERSONALITY_SAMPLES_MAX)
        err = DP_ERR_CONFLICT;
    db_rows_free(r);
    if (!err)
        err = db_query(db, "INSERT INTO personality_samples (id, avatar_id, text, created_at) VALUES (?, ?, ?, ?)", ins,
                       4, NULL);
    if (!err)
        err = personality_profile(db, avatar_id, profile);
    if (!err)
        err = store_profile(db, avatar_id, *profile, now);
    if (!err)
        err = db_commit(db);
    if (err) {
        db_rollback(db);
        json_decref(*profile);
        *profile = NULL;
    }
    return err;
}
