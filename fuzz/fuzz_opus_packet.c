/* libFuzzer target: the Opus packet path of the voice WebSocket — opus_dec_packet on arbitrary
 * bytes, packet after packet on one decoder as a session does. It stays inside its buffers (ASan),
 * never returns more samples than asked for, and the decoder stays usable after a bad packet. */
#include <stdint.h>
#include <stdlib.h>

#include "audio/opus_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct opus_dec *d;
    if (!d && !(d = opus_dec_new(16000)))
        abort();
    int16_t pcm[OPUS_DECODE_MAX_SAMPLES];
    /* Byte 0 splits the input into packets of up to that many bytes (0: one packet). */
    size_t step = size ? data[0] : 0, at = size ? 1 : 0;
    if (!step)
        step = size;
    while (at < size) {
        size_t n = size - at < step ? size - at : step;
        int r = opus_dec_packet(d, data + at, n, pcm, OPUS_DECODE_MAX_SAMPLES);
        if (r > OPUS_DECODE_MAX_SAMPLES || r < -1)
            abort();
        at += n;
    }
    /* A valid packet still decodes: a 20 ms SILK/CELT "silence" TOC with an empty frame. */
    static const uint8_t quiet[] = {0x08};
    if (opus_dec_packet(d, quiet, sizeof quiet, pcm, OPUS_DECODE_MAX_SAMPLES) != 320)
        abort();
    return 0;
}
