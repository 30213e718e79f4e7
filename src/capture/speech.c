/* The VAD over a device's audio, in the recording's time. */
#include "capture/speech.h"

#include <stdlib.h>
#include <string.h>

#include "audio/resample.h"
#include "core/err.h"

/* Speech that opens a conversation is longer than the voice session's onset (a cough, a door):
 * 300 ms voiced; a pause of half a second inside a sentence does not end a segment. */
static const struct vad_config conversation_vad = {300, 500, 9.0};

void speech_track_init(struct speech_track *t, long rate, long channels, int64_t base_ms, int keep_segments)
{
    memset(t, 0, sizeof *t);
    vad_init(&t->vad, &conversation_vad);
    t->rate = rate > 0 ? rate : VAD_RATE;
    t->channels = channels > 0 ? channels : 1;
    t->base_ms = base_ms;
    t->last_end_ms = -1;
    t->segments = keep_segments ? json_array() : NULL;
}

static void add_segment(struct speech_track *t, int64_t start, int64_t end)
{
    if (end <= start)
        return;
    t->speech_ms += end - start;
    t->last_end_ms = end;
    if (!t->segments)
        return;
    size_t n = json_array_size(t->segments);
    if (n >= SPEECH_SEGMENTS_MAX) { /* the last one stretches to cover it */
        json_array_set_new(json_array_get(t->segments, n - 1), 1, json_integer(end));
        return;
    }
    json_array_append_new(t->segments, json_pack("[I,I]", (json_int_t)start, (json_int_t)end));
}

static void feed_frames(struct speech_track *t, const int16_t *p, size_t n)
{
    while (n) {
        size_t take = VAD_FRAME - (size_t)t->nrem;
        if (take > n)
            take = n;
        memcpy(t->rem + t->nrem, p, take * 2);
        t->nrem += (int)take;
        p += take;
        n -= take;
        if (t->nrem < VAD_FRAME)
            break;
        t->nrem = 0;
        enum vad_event ev = vad_frame(&t->vad, t->rem);
        if (ev == VAD_STOP)
            add_segment(t, t->base_ms + vad_frame_ms(t->vad.start_frame),
                        t->base_ms + vad_frame_ms(t->vad.last_voiced + 1));
    }
}

int speech_track_feed(struct speech_track *t, const void *pcm, size_t n)
{
    size_t frames = n / (size_t)(2 * t->channels);
    if (!frames)
        return DP_OK;
    t->fed_frames += (int64_t)frames;
    if (t->rate == VAD_RATE && t->channels == 1) {
        feed_frames(t, pcm, frames);
        return DP_OK;
    }
    /* Another format: channels averaged, then resampled piece by piece (the VAD needs no more
     * precision than that at the pieces' edges). */
    int16_t *mono = malloc(frames * 2);
    if (!mono)
        return DP_ERR_NOMEM;
    const int16_t *in = pcm;
    for (size_t i = 0; i < frames; i++) {
        long sum = 0;
        for (long c = 0; c < t->channels; c++)
            sum += in[i * (size_t)t->channels + (size_t)c];
        mono[i] = (int16_t)(sum / t->channels);
    }
    int16_t *out = mono;
    size_t m = frames;
    int err = DP_OK;
    if (t->rate != VAD_RATE)
        err = audio_resample(mono, frames, (int)t->rate, VAD_RATE, 0, &out, &m);
    if (!err)
        feed_frames(t, out, m);
    if (out != mono)
        free(out);
    free(mono);
    return err;
}

int64_t speech_track_silence_ms(const struct speech_track *t)
{
    if (t->vad.in_speech || t->last_end_ms < 0)
        return -1;
    return t->base_ms + t->fed_frames * 1000 / t->rate - t->last_end_ms;
}

void speech_track_finish(struct speech_track *t)
{
    if (t->vad.in_speech) {
        add_segment(t, t->base_ms + vad_frame_ms(t->vad.start_frame),
                    t->base_ms + vad_frame_ms(t->vad.last_voiced + 1));
        t->vad.in_speech = 0;
    }
}

void speech_track_free(struct speech_track *t)
{
    json_decref(t->segments);
    t->segments = NULL;
}
