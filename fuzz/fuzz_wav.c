/* libFuzzer target: wav_parse on arbitrary bytes. It must stay within the buffer (ASan checks);
 * what it accepts must describe samples inside the file; and a clip cut from it (fresh header +
 * the span's bytes) must parse back as the same format with exactly the span's frames. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/wav.h"
#include "core/err.h"

static void check_clip(const uint8_t *data, const struct wav_info *w, uint64_t start_ms, uint64_t end_ms)
{
    uint64_t first, count;
    wav_span(w, start_ms, end_ms, &first, &count);
    if (first > w->frames || count > w->frames - first)
        abort();
    size_t bytes = (size_t)(count * w->frame_bytes);
    uint8_t *clip = malloc(WAV_HEADER_LEN + bytes);
    if (!clip)
        return;
    wav_header(w, count, clip);
    memcpy(clip + WAV_HEADER_LEN, data + w->data_off + first * w->frame_bytes, bytes);
    struct wav_info back;
    if (wav_parse_mem(clip, WAV_HEADER_LEN + bytes, &back) != DP_OK || back.channels != w->channels ||
        back.rate != w->rate || back.bits != w->bits || back.frames != count || back.data_off != WAV_HEADER_LEN)
        abort();
    free(clip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wav_info w;
    int rc = wav_parse_mem(data, size, &w);
    if (rc != DP_OK) {
        static const struct wav_info zero;
        if ((rc != DP_ERR_INVALID && rc != DP_ERR_UNSUPPORTED) || memcmp(&w, &zero, sizeof w))
            abort();
        return 0;
    }
    if (!w.channels || w.channels > WAV_MAX_CHANNELS || !w.rate || w.rate > WAV_MAX_RATE ||
        (w.bits != 8 && w.bits != 16 && w.bits != 24 && w.bits != 32) ||
        w.frame_bytes != (uint32_t)w.channels * (w.bits / 8u) || w.data_off > size ||
        w.frames > (size - w.data_off) / w.frame_bytes)
        abort();
    uint64_t d = wav_duration_ms(&w);
    check_clip(data, &w, 0, d);
    check_clip(data, &w, d / 3, d - d / 3);
    check_clip(data, &w, d / 2, d + 1000);
    return 0;
}
