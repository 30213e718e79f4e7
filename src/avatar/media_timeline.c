/* Media time ↔ recording time ↔ wall clock (see media_timeline.h). */
#include "avatar/media_timeline.h"

#include <stdio.h>

#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

static int piece(const json_t *timeline, size_t i, int64_t *media_ms, int64_t *rec_ms, int64_t *len_ms)
{
    const json_t *p = json_array_get(timeline, i);
    if (json_array_size(p) != 3)
        return 0;
    *media_ms = json_integer_value(json_array_get(p, 0));
    *rec_ms = json_integer_value(json_array_get(p, 1));
    *len_ms = json_integer_value(json_array_get(p, 2));
    return 1;
}

int64_t media_timeline_to_recording(const json_t *timeline, int64_t media_ms)
{
    int64_t m, r, len, at = media_ms;
    for (size_t i = 0; json_is_array(timeline) && piece(timeline, i, &m, &r, &len); i++) {
        if (media_ms < m)
            break;
        at = r + (media_ms - m < len ? media_ms - m : len);
    }
    return at;
}

int64_t media_timeline_to_media(const json_t *timeline, int64_t rec_ms)
{
    int64_t m, r, len, end = 0;
    if (!json_is_array(timeline))
        return rec_ms;
    for (size_t i = 0; piece(timeline, i, &m, &r, &len); i++) {
        if (rec_ms < r)
            return m; /* in a dropped silence: where the speech after it starts */
        if (rec_ms < r + len)
            return m + (rec_ms - r);
        end = m + len;
    }
    return end;
}

int media_clock_load(struct db *db, const char *media_id, struct media_clock *c)
{
    c->recorded_ms = -1;
    c->timeline = NULL;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id)};
    int err = db_query(db, "SELECT recorded_at, timeline FROM media WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows == 1 && !db_rows_is_null(r, 0, 0) && time_parse_rfc3339(db_rows_text(r, 0, 0), &c->recorded_ms))
        c->recorded_ms = -1;
    if (r->nrows == 1 && !db_rows_is_null(r, 0, 1))
        c->timeline = json_loads(db_rows_text(r, 0, 1), 0, NULL);
    db_rows_free(r);
    return DP_OK;
}

int media_clock_at(const struct media_clock *c, int64_t media_ms, char *out)
{
    *out = 0;
    if (c->recorded_ms < 0)
        return 0;
    time_rfc3339(c->recorded_ms + media_timeline_to_recording(c->timeline, media_ms), out);
    return 1;
}

void media_clock_free(struct media_clock *c)
{
    json_decref(c->timeline);
    c->timeline = NULL;
}
