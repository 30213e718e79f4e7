/* WAV (RIFF/WAVE) with integer PCM samples: a defensive header parser, frame-exact spans and a
 * fresh canonical header, so that a span of a recording can be served as a WAV of its own. */
#ifndef DP_WAV_H
#define DP_WAV_H

#include <stddef.h>
#include <stdint.h>

#define WAV_HEADER_LEN 44    /* the canonical header wav_header writes */
#define WAV_MAX_CHANNELS 64  /* more is refused as damaged */
#define WAV_MAX_RATE 1000000 /* frames per second; more is refused as damaged */
#define WAV_MAX_CHUNKS 1024  /* chunks walked before the data and fmt chunks must have been seen */

/* What the header says, checked against the file's size. */
struct wav_info {
    uint16_t channels;    /* 1 … WAV_MAX_CHANNELS */
    uint32_t rate;        /* frames per second, 1 … WAV_MAX_RATE */
    uint16_t bits;        /* bits per sample: 8 (unsigned), 16, 24 or 32 (signed) */
    uint32_t frame_bytes; /* bytes of one frame: channels * bits / 8 */
    uint64_t data_off;    /* file offset of the first sample byte */
    uint64_t frames;      /* whole frames in the file (a truncated data chunk counts what is there) */
};

/* Reads up to n bytes at offset off into buf: the number read (fewer only at the end of the
 * file), or -1 on an I/O error. */
typedef long (*wav_read_fn)(void *ctx, uint64_t off, void *buf, size_t n);

/* Parses the header of a file of size bytes read through rd(ctx, …). Chunk sizes are not
 * trusted: a data chunk longer than the file (a truncated or still-streaming file) ends at the
 * end of the file; odd-sized chunks are followed by their pad byte; fmt may come before or after
 * other chunks (LIST, fact, …). Returns DP_OK with *out filled; DP_ERR_UNSUPPORTED for a RIFF/WAVE
 * file whose samples are not integer PCM of 8/16/24/32 bits (float, ADPCM, µ-law …);
 * DP_ERR_INVALID when it is not a WAV file or is damaged (no fmt or data chunk, impossible fields);
 * DP_ERR_IO when rd fails. *out is zeroed on any error. */
int wav_parse(wav_read_fn rd, void *ctx, uint64_t size, struct wav_info *out);

/* wav_parse over a buffer holding the whole file. */
int wav_parse_mem(const void *p, size_t n, struct wav_info *out);

/* The length of the file in milliseconds, rounded up. */
uint64_t wav_duration_ms(const struct wav_info *w);

/* The frames of the time span [start_ms, end_ms): the first frame is floor(start_ms * rate /
 * 1000) and the end floor(end_ms * rate / 1000), so that adjacent spans neither overlap nor leave
 * a gap. Clamped to the file and to what one canonical header can announce (4 GiB); *count is 0
 * when the span is empty or starts past the end. */
void wav_span(const struct wav_info *w, uint64_t start_ms, uint64_t end_ms, uint64_t *first, uint64_t *count);

/* Writes a canonical 44-byte header (PCM, w's channels, rate and bits) for frames frames, which
 * must be at most what wav_span returns. */
void wav_header(const struct wav_info *w, uint64_t frames, uint8_t out[WAV_HEADER_LEN]);

#endif
