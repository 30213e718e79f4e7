/* Sample-rate conversion of a stream of mono PCM16 chunks (speexdsp's resampler, one state for
 * the whole stream, so chunk edges leave no clicks): audio a remote engine sends at its own rate,
 * converted as it arrives. */
#ifndef DP_RESAMPLE_STREAM_H
#define DP_RESAMPLE_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct audio_resampler;

/* A converter from in_rate to out_rate (1 … 384000; the same rate passes samples through).
 * NULL when out of memory or a rate is out of range. */
struct audio_resampler *audio_resampler_new(int in_rate, int out_rate);
/* Converts n samples and hands what comes out to out(arg, …) (in pieces); out's nonzero answer
 * stops and is returned. flush != 0 also pushes out what the filter still holds (end of stream). */
int audio_resampler_feed(struct audio_resampler *r, const int16_t *in, size_t n, int flush,
                         int (*out)(void *arg, const int16_t *pcm, size_t n), void *arg);
void audio_resampler_free(struct audio_resampler *r);

#endif
