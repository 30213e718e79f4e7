/* Ogg/Opus (RFC 7845) from mono PCM16: what browsers and phones play where WAV is too big. */
#ifndef DP_OGG_OPUS_H
#define DP_OGG_OPUS_H

#include <stddef.h>
#include <stdint.h>

/* Encodes n samples at rate (8000, 12000, 16000, 24000 or 48000) as a complete Ogg/Opus file
 * (*out malloc'd, *len bytes), 20 ms frames at bitrate bits/s (0: 32 kb/s, voice). DP_ERR_INVALID
 * for another rate; DP_ERR_NOMEM; DP_ERR_INTERNAL when libopus refuses. */
int ogg_opus_encode(const int16_t *pcm, size_t n, int rate, int bitrate, uint8_t **out, size_t *len);

/* Decodes an Ogg/Opus file held in memory to mono PCM16 at 48 kHz (*pcm malloc'd, *n samples)
 * through libopusfile, never reading more than max_samples. DP_ERR_UNSUPPORTED when it is not
 * Ogg/Opus or is damaged. */
int ogg_opus_decode(const uint8_t *data, size_t len, size_t max_samples, int16_t **pcm, size_t *n);

#endif
