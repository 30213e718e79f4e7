/* Voice profiles: one row of measurements per sample (voice_samples), averaged on read, weighted
 * by each sample's seconds of speech (a long recording says more about a voice than a short one). */
#include "avatar/voice_profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

json_t *voice_features_json(const struct voice_features *f)
{
    json_t *mfcc = json_array();
    for (int i = 0; i < FEATURES_MFCC; i++)
        json_array_append_new(mfcc, json_real(f->mfcc[i]));
    return json_pack("{s:f,s:f,s:f,s:f,s:o,s:I,s:I}", "f0_mean_hz", f->f0_mean_hz, "f0_std_hz", f->f0_std_hz,
                     "energy_db", f->energy_db, "rate_sps", f->rate_sps, "mfcc", mfcc, "speech_ms",
                     (json_int_t)llround(f->speech_s * 1000), "voiced_ms", (json_int_t)llround(f->voiced_s * 1000));
}

static void features_from_json(json_t *j, struct voice_features *f)
{
    memset(f, 0, sizeof *f);
    f->f0_mean_hz = json_number_value(json_object_get(j, "f0_mean_hz"));
    f->f0_std_hz = json_number_value(json_object_get(j, "f0_std_hz"));
    f->energy_db = json_number_value(json_object_get(j, "energy_db"));
    f->rate_sps = json_number_value(json_object_get(j, "rate_sps"));
    f->speech_s = (double)json_integer_value(json_object_get(j, "speech_ms")) / 1000.0;
    f->voiced_s = (double)json_integer_value(json_object_get(j, "voiced_ms")) / 1000.0;
    json_t *m = json_object_get(j, "mfcc");
    for (int i = 0; i < FEATURES_MFCC; i++)
        f->mfcc[i] = json_number_value(json_array_get(m, (size_t)i));
}

int voice_profile_add(struct db *db, const char *avatar_id, const char *media_id, const struct voice_features *f,
                      char id_out[ID_LEN])
{
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    json_t *j = voice_features_json(f);
    char *doc = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!doc)
        return DP_ERR_NOMEM;
    int err = db_begin(db);
    struct db_val d[] = {DB_TEXT(media_id)};
    if (!err && media_id)
        err = db_query(db, "DELETE FROM voice_samples WHERE media_id = ?", d, 1, NULL);
    struct db_val p[] = {DB_TEXT(id),  DB_TEXT(avatar_id), DB_TEXT(media_id), DB_INT(llround(f->speech_s * 1000)),
                         DB_TEXT(doc), DB_TEXT(now)};
    if (!err)
        err = db_query(db,
                       "INSERT INTO voice_samples (id, avatar_id, media_id, speech_ms, features, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       p, 6, NULL);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    free(doc);
    if (!err && id_out)
        memcpy(id_out, id, ID_LEN);
    return err;
}

int voice_profile_get(struct db *db, const char *avatar_id, struct voice_features *f, int *samples)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT features FROM voice_samples WHERE avatar_id = ? ORDER BY id", p, 1, &r);
    if (err)
        return err;
    struct voice_features sum = {0};
    double w_all = 0, w_f0 = 0, var = 0;
    *samples = 0;
    for (int i = 0; i < r->nrows; i++) {
        json_t *j = json_loads(db_rows_text(r, i, 0), 0, NULL);
        struct voice_features s;
        features_from_json(j, &s);
        json_decref(j);
        double w = s.speech_s, wv = s.voiced_s;
        (*samples)++;
        sum.speech_s += s.speech_s;
        sum.voiced_s += s.voiced_s;
        sum.energy_db += w * s.energy_db;
        sum.rate_sps += w * s.rate_sps;
        for (int k = 0; k < FEATURES_MFCC; k++)
            sum.mfcc[k] += w * s.mfcc[k];
        w_all += w;
        if (s.f0_mean_hz > 0) {
            sum.f0_mean_hz += wv * s.f0_mean_hz;
            /* pooled spread: each sample's own plus how far its mean lies from the others' */
            var += wv * (s.f0_std_hz * s.f0_std_hz + s.f0_mean_hz * s.f0_mean_hz);
            w_f0 += wv;
        }
    }
    db_rows_free(r);
    if (!*samples)
        return DP_OK;
    memset(f, 0, sizeof *f);
    f->speech_s = sum.speech_s;
    f->voiced_s = sum.voiced_s;
    if (w_all > 0) {
        f->energy_db = sum.energy_db / w_all;
        f->rate_sps = sum.rate_sps / w_all;
        for (int k = 0; k < FEATURES_MFCC; k++)
            f->mfcc[k] = sum.mfcc[k] / w_all;
    }
    if (w_f0 > 0) {
        f->f0_mean_hz = sum.f0_mean_hz / w_f0;
        f->f0_std_hz = sqrt(fmax(0, var / w_f0 - f->f0_mean_hz * f->f0_mean_hz));
    }
    return DP_OK;
}

int voice_profile_json(struct db *db, const char *avatar_id, json_t **out)
{
    struct voice_features f = {0};
    int n;
    int err = voice_profile_get(db, avatar_id, &f, &n);
    if (err)
        return err;
    int progress = n >= VOICE_SAMPLES_READY ? 100 : n * 100 / VOICE_SAMPLES_READY;
    const char *status = !n ? "untrained" : n < VOICE_SAMPLES_READY ? "training" : "ready";
    char detail[160];
    if (n < VOICE_SAMPLES_READY)
        snprintf(detail, sizeof detail,
                 "%d of %d voice samples (about 10 s of speech each); replies use a stock voice "
                 "with the pitch and rate measured so far",
                 n, VOICE_SAMPLES_READY);
    else
        snprintf(detail, sizeof detail, "replies are spoken with this voice's pitch and rate");
    json_t *j = n ? voice_features_json(&f) : json_object();
    json_object_del(j, "speech_ms");
    json_object_del(j, "voiced_ms");
    if (n) {
        json_object_set_new(j, "mfcc_means", json_incref(json_object_get(j, "mfcc")));
        json_object_del(j, "mfcc");
    }
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "progress", json_integer(progress));
    json_object_set_new(j, "samples", json_integer(n));
    json_object_set_new(j, "speech_seconds", json_real(round(f.speech_s * 10) / 10 * (n > 0)));
    json_object_set_new(j, "detail", json_string(detail));
    *out = j;
    return DP_OK;
}
