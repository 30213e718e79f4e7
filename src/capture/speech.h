/* Where the speech is in a device's audio: the VAD over the stream (any rate, any channels:
 * downmixed and brought to 16 kHz for it), the speech segments it found and how long the audio
 * has been silent since the last one ended. The live session uses it to close a conversation
 * after a silence; the transcription job to find whether a closed recording holds speech. */
#ifndef DP_CAPTURE_SPEECH_H
#define DP_CAPTURE_SPEECH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/vad.h"

#define SPEECH_SEGMENTS_MAX 2000 /* segments kept (a longer list ends with the last ones merged) */

struct speech_track {
    struct vad vad;
    long rate, channels;
    int16_t rem[VAD_FRAME]; /* a partial 10 ms frame waiting for the next piece */
    int nrem;
    int64_t base_ms;     /* the recording's time of the first sample fed */
    int64_t fed_frames;  /* frames fed so far */
    int64_t speech_ms;   /* total speech */
    int64_t last_end_ms; /* end of the last finished segment; -1 before any */
    json_t *segments;    /* [[start_ms, end_ms], ...] when kept, else NULL */
};

/* A tracker of audio at rate/channels whose first sample is at base_ms of its recording. */
void speech_track_init(struct speech_track *t, long rate, long channels, int64_t base_ms, int keep_segments);
/* Feeds n bytes of interleaved PCM16 (whole frames). DP_ERR_NOMEM. */
int speech_track_feed(struct speech_track *t, const void *pcm, size_t n);
/* Milliseconds of audio since the last speech ended; -1 while speech goes on or before any. */
int64_t speech_track_silence_ms(const struct speech_track *t);
/* Ends a segment still open at the end of the audio (the job, at the end of the file). */
void speech_track_finish(struct speech_track *t);
void speech_track_free(struct speech_track *t);

#endif
