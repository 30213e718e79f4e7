/* Any uploaded audio or video container (WAV, MP3, M4A/MP4, WebM/Matroska, Ogg, FLAC …) to 16 kHz
 * mono PCM16, by ffmpeg in a sandboxed subprocess: untrusted containers are never parsed in-process. */
#ifndef DP_INGEST_AUDIO_DECODE_H
#define DP_INGEST_AUDIO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define AUDIO_DECODE_RATE 16000

/* Decodes the first max_ms of the file at path (its audio track; video is never decoded).
 * DP_OK with *pcm (malloc'd, *n samples) and *truncated set when the file is longer than max_ms;
 * DP_ERR_UNSUPPORTED when ffmpeg cannot read it (not audio, damaged, no audio track: why says
 * so), DP_ERR_TIMEOUT, DP_ERR_UNAVAILABLE when ffmpeg is not installed, DP_ERR_NOMEM. */
int audio_decode_file(const char *path, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated, char *why,
                      size_t whylen);

/* audio_decode_file from start_ms on (a clip of a recording). */
int audio_decode_span(const char *path, int64_t start_ms, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated,
                      char *why, size_t whylen);

/* audio_decode_file of bytes in memory (an upload), through a private temporary file. */
int audio_decode_mem(const void *p, size_t len, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated, char *why,
                     size_t whylen);

#endif
