/* libFuzzer target: Wyoming events as a service sends them over TCP (wyc_parse), one after another
 * through the input. An event must lie inside what was given, its payload within the cap, its data
 * an object; an error must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/wyoming_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t at = 0;
    for (;;) {
        struct wyc_event ev;
        size_t used;
        char why[200] = "";
        int r = wyc_parse(buf + at, size - at, &ev, &used, why, sizeof why);
        if (r == WYC_ERROR && !why[0])
            abort();
        if (r != WYC_EVENT)
            break;
        if (!used || used > size - at || !ev.type[0] || !json_is_object(ev.data) || ev.payload_len > WYC_PAYLOAD_MAX)
            abort();
        if (ev.payload && (ev.payload < buf + at || ev.payload + ev.payload_len > buf + at + used))
            abort();
        wyc_event_clear(&ev);
        at += used;
    }
    free(buf);
    return 0;
}
