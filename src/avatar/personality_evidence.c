/* Personality evidence (see personality_evidence.h). */
#include "avatar/personality_evidence.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "brain/memory.h"
#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "store/db.h"

int personality_evidence_add(struct db *db, const char *avatar_id, json_t *traits, const struct memory_source *source,
                             int *added)
{
    *added = 0;
    if (!json_array_size(traits))
        return DP_OK;
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT COUNT(*) FROM personality_evidence WHERE avatar_id = ?", a, 1, &r);
    if (err)
        return err;
    int64_t have = db_rows_int(r, 0, 0);
    db_rows_free(r);
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    size_t i;
    json_t *t;
    json_array_foreach (traits, i, t) {
        if (have + *added >= PERSONALITY_EVIDENCE_MAX)
            break;
        const char *trait = json_string_value(json_object_get(t, "trait"));
        const char *ev = json_string_value(json_object_get(t, "evidence"));
        struct db_val q[] = {DB_TEXT(avatar_id), DB_TEXT(trait), DB_TEXT(ev)};
        if ((err = db_query(db, "SELECT 1 FROM personality_evidence WHERE avatar_id = ? AND trait = ? AND evidence = ?",
                            q, 3, &r)))
            break;
        int known = r->nrows > 0;
        db_rows_free(r);
        if (known)
            continue;
        char id[ID_LEN];
        id_new(id);
        const char *conv = source ? source->conversation_id : NULL;
        struct db_val p[] = {DB_TEXT(id),    DB_TEXT(avatar_id),
                             DB_TEXT(trait), DB_REAL(json_number_value(json_object_get(t, "score"))),
                             DB_TEXT(ev),    DB_TEXT(source ? source->media_id : NULL),
                             DB_TEXT(conv),  DB_TEXT(conv ? source->message_ids : NULL),
                             DB_TEXT(now)};
        if ((err = db_query(db,
                            "INSERT INTO personality_evidence (id, avatar_id, trait, score, evidence, media_id, "
                            "conversation_id, message_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            p, 9, NULL)))
            break;
        ++*added;
    }
    return err;
}

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

int personality_evidence_blend(struct db *db, const char *avatar_id, json_t *profile)
{
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    int err = db_query(db,
                       "SELECT trait, score, evidence FROM personality_evidence WHERE avatar_id = ? "
                       "ORDER BY trait, id DESC",
                       a, 1, &r);
    if (err)
        return err;
    json_t *traits = json_object_get(profile, "traits");
    double s = (double)json_integer_value(json_object_get(profile, "samples"));
    for (int i = 0; i < r->nrows;) {
        const char *trait = db_rows_text(r, i, 0);
        json_t *quotes = json_array();
        double sum = 0;
        int k = 0;
        for (; i < r->nrows && !strcmp(db_rows_text(r, i, 0), trait); i++, k++) {
            sum += db_rows_real(r, i, 1);
            if (k < PERSONALITY_EVIDENCE_SHOWN)
                json_array_append_new(quotes, json_string(db_rows_text(r, i, 2)));
        }
        json_t *t = json_object_get(traits, trait);
        if (!json_is_object(t)) {
            json_decref(quotes);
            continue; /* a trait the heuristics no longer score */
        }
        double h = json_number_value(json_object_get(t, "score")), m = sum / k;
        json_object_set_new(t, "heuristic_score", json_real(h));
        json_object_set_new(t, "score", json_real(round3((h * s + m * k) / (s + k))));
        json_object_set_new(t, "model",
                            json_pack("{s:f,s:i,s:o}", "score", round3(m), "evidence", k, "quotes", quotes));
    }
    json_t *sources = json_object_get(profile, "sources");
    if (json_is_object(sources))
        json_object_set_new(sources, "model_evidence", json_integer(r->nrows));
    db_rows_free(r);
    return DP_OK;
}
