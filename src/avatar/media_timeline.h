/* Where a media item's audio sits in time. A device conversation is filed cropped to its speech
 * (capture/crop.h): its timeline lists the pieces of the recording it kept, in order, as
 * [media_ms, recording_ms, len_ms], and recorded_at is when the recording started. A span of the
 * media maps back to the recording, and so to the wall-clock time it was said. */
#ifndef DP_MEDIA_TIMELINE_H
#define DP_MEDIA_TIMELINE_H

#include <jansson.h>
#include <stdint.h>

struct db;

/* What media_create stores with a media item; NULL (or NULL fields) for an upload. */
struct media_origin {
    const char *recorded_at; /* RFC 3339 */
    const char *timeline;    /* JSON as above; NULL: the media is the recording uncut */
};

/* The recording's time of media time media_ms: the piece holding it (a time between pieces or
 * past the end maps to its piece's end). timeline NULL or not an array: media_ms itself. */
int64_t media_timeline_to_recording(const json_t *timeline, int64_t media_ms);

/* The media's time of recording time rec_ms (a time in a dropped silence: the next piece's
 * start; past the last piece: the media's end). timeline NULL: rec_ms itself. */
int64_t media_timeline_to_media(const json_t *timeline, int64_t rec_ms);

/* A media item's clock: when its recording started and its timeline (media_clock_load). */
struct media_clock {
    int64_t recorded_ms; /* -1: unknown */
    json_t *timeline;    /* owned; NULL: uncut */
};
int media_clock_load(struct db *db, const char *media_id, struct media_clock *c);
/* The wall-clock time (RFC 3339, RFC3339_LEN bytes) media time media_ms was recorded at; 0 and
 * out "" when the media's start is not known (an upload). */
int media_clock_at(const struct media_clock *c, int64_t media_ms, char *out);
void media_clock_free(struct media_clock *c);

#endif
