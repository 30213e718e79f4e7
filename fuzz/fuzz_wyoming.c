/* libFuzzer target: the Wyoming framing of device audio (capture/wyoming.c) over a sequence of
 * WebSocket messages. Input: records of [flags (bit 0: text, bit 1: raw PCM allowed)][length,
 * 2 bytes LE][bytes]. An event's payload must lie inside the frame it came with and within the
 * cap; its fields within their documented ranges; an error must name its code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/wyoming.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wy_stream s = {.payload_max = 4096};
    size_t at = 0;
    while (at + 3 <= size) {
        uint8_t flags = data[at];
        size_t n = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (n > size - at)
            n = size - at;
        /* A copy of exactly n bytes, so that ASan sees any read past the frame. */
        uint8_t *frame = malloc(n ? n : 1);
        if (!frame)
            return 0;
        memcpy(frame, data + at, n);
        at += n;
        s.allow_raw = (flags & 2) != 0;
        struct wy_event ev;
        const char *code = NULL;
        char why[256];
        enum wy_result r = wy_feed(&s, flags & 1, frame, n, &ev, &code, why, sizeof why);
        if (r == WY_ERROR && (!code || !*code || !*why))
            abort();
        if (r == WY_EVENT) {
            if (ev.payload && (ev.payload < frame || ev.payload + ev.payload_len > frame + n))
                abort();
            if (ev.payload_len > 4096 || (ev.rate && (ev.rate < 1000 || ev.rate > 192000)) ||
                (ev.channels && (ev.channels < 1 || ev.channels > 8)) || (ev.width && ev.width != 2))
                abort();
            if (ev.type < WY_AUDIO_START || ev.type > WY_OTHER)
                abort();
        }
        free(frame);
    }
    return 0;
}
