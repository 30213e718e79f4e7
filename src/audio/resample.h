/* Sample-rate conversion of mono PCM16 (speexdsp's resampler, BSD). */
#ifndef DP_RESAMPLE_H
#define DP_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* n samples at in_rate → *out (malloc'd, *m samples) at out_rate; quality 0–10 (speexdsp's; 4
 * is its VoIP default). The same rate copies. DP_ERR_INVALID for a rate outside 1 … 384000. */
int audio_resample(const int16_t *in, size_t n, int in_rate, int out_rate, int quality, int16_t **out, size_t *m);

/* A resampler for a stream that arrives in pieces (a live microphone): the filter's state is kept
 * from piece to piece, so the pieces join without a seam. */
struct resampler;
/* DP_ERR_INVALID for a rate outside 1 … 384000, DP_ERR_NOMEM. */
int resampler_new(int in_rate, int out_rate, int quality, struct resampler **out);
/* Resamples all n samples of in into out (room for cap samples; resampler_room(r, n) is enough)
 * and returns how many were written. */
size_t resampler_run(struct resampler *r, const int16_t *in, size_t n, int16_t *out, size_t cap);
/* Output room enough for n input samples. */
size_t resampler_room(const struct resampler *r, size_t n);
void resampler_free(struct resampler *r);

/* Linear fades over the first and last ms milliseconds (a clip cut out of a recording starts and
 * ends without a click). */
void audio_fade(int16_t *pcm, size_t n, int rate, int ms);

#endif
