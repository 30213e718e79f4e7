/* Tests of capture/crop.h's plan (which pieces of a recording a conversation keeps) and of the
 * media timeline (avatar/media_timeline.h) that maps the cropped audio back to the recording. */
#include <string.h>

#include "../support.h"
#include "../test.h"
#include "avatar/media_timeline.h"
#include "capture/crop.h"

static json_t *plan_of(const char *segments, int64_t duration_ms)
{
    json_t *s = json_loads(segments, 0, NULL);
    CHECK(s != NULL);
    json_t *p = crop_plan(s, duration_ms);
    json_decref(s);
    return p;
}

static void check_plan(const char *segments, int64_t duration_ms, const char *want)
{
    json_t *p = plan_of(segments, duration_ms);
    char *got = json_dumps(p, JSON_COMPACT);
    CHECK_EQ_STR(got, want);
    free(got);
    json_decref(p);
}

TEST(crop_keeps_speech_with_padding_and_drops_long_silences)
{
    /* Leading quiet beyond the padding goes; a 9 s silence goes but for both paddings. */
    check_plan("[[3000,5000],[14000,16000]]", 17000, "[[0,2500,3000],[3000,13500,3000]]");
    /* A pause up to CROP_GAP_MS between the padded ends stays whole: one piece. */
    check_plan("[[1000,2000],[4500,5000]]", 6000, "[[0,500,5000]]");
    /* A pause just over it: two pieces. */
    check_plan("[[1000,2000],[5001,5500]]", 7000, "[[0,500,2000],[2000,4501,1499]]");
    /* Padding clipped to the recording; overlapping segments merge. */
    check_plan("[[100,900],[800,1200]]", 1300, "[[0,0,1300]]");
    check_plan("[]", 5000, "[]");
}

TEST(timeline_maps_media_time_to_the_recording_and_back)
{
    json_t *t = plan_of("[[3000,5000],[14000,16000]]", 17000); /* [[0,2500,3000],[3000,13500,3000]] */
    CHECK_EQ_INT((int)media_timeline_to_recording(t, 0), 2500);
    CHECK_EQ_INT((int)media_timeline_to_recording(t, 2999), 5499);
    CHECK_EQ_INT((int)media_timeline_to_recording(t, 3000), 13500);
    CHECK_EQ_INT((int)media_timeline_to_recording(t, 4500), 15000);
    CHECK_EQ_INT((int)media_timeline_to_recording(t, 9000), 16500); /* past the end: the last piece's end */
    CHECK_EQ_INT((int)media_timeline_to_media(t, 15000), 4500);
    CHECK_EQ_INT((int)media_timeline_to_media(t, 8000), 3000); /* in the dropped silence: the next speech */
    CHECK_EQ_INT((int)media_timeline_to_media(t, 100), 0);
    CHECK_EQ_INT((int)media_timeline_to_media(t, 20000), 6000);
    CHECK_EQ_INT((int)media_timeline_to_recording(NULL, 1234), 1234); /* uncut */
    json_decref(t);
}

TEST(media_clock_gives_wall_clock_times)
{
    json_t *t = plan_of("[[3000,5000],[14000,16000]]", 17000);
    struct media_clock c = {1773480600000LL /* 2026-03-14T09:30:00Z */, t};
    char at[32];
    CHECK(media_clock_at(&c, 3000, at));
    CHECK_EQ_STR(at, "2026-03-14T09:30:13.500Z");
    c.recorded_ms = -1;
    CHECK(!media_clock_at(&c, 3000, at));
    CHECK_EQ_STR(at, "");
    media_clock_free(&c);
}
