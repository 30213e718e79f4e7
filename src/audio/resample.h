/* Sample-rate conversion of mono PCM16 (speexdsp's resampler, BSD). */
#ifndef DP_RESAMPLE_H
#define DP_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* n samples at in_rate → *out (malloc'd, *m samples) at out_rate; quality 0–10 (speexdsp's; 4
 * is its VoIP default). The same rate copies. DP_ERR_INVALID for a rate outside 1 … 384000. */
int audio_resample(const int16_t *in, size_t n, int in_rate, int out_rate, int quality, int16_t **out, size_t *m);

/* Linear fades over the first and last ms milliseconds (a clip cut out of a recording starts and
 * ends without a click). */
void audio_fade(int16_t *pcm, size_t n, int rate, int ms);

#endif
