/* libFuzzer target: ogg_opus_decode (libopusfile through our wrapper) on arbitrary bytes. It must
 * stay within the buffer and its sample cap (ASan checks), and answer DP_OK only with samples it
 * owns; anything it decodes must encode again into a file that decodes to as many samples. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/ogg_opus.h"
#include "core/err.h"

#define CAP (48000 * 5) /* samples: 5 s at 48 kHz */

/* Debian's libopusfile 0.12 leaks a few bytes of a damaged OpusTags packet inside op_open_memory
 * when it then fails (nothing of it reaches us to free): not a leak of ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libopusfile.so";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int16_t *pcm = NULL;
    size_t n = 0;
    int rc = ogg_opus_decode(data, size, CAP, &pcm, &n);
    if (rc != DP_OK) {
        if ((rc != DP_ERR_UNSUPPORTED && rc != DP_ERR_NOMEM) || pcm || n)
            abort();
        return 0;
    }
    if (n > CAP || (n && !pcm))
        abort();
    uint8_t *ogg;
    size_t len;
    if (ogg_opus_encode(pcm, n, 48000, 0, &ogg, &len) != DP_OK)
        abort();
    int16_t *back;
    size_t m;
    if (ogg_opus_decode(ogg, len, CAP, &back, &m) != DP_OK || m != n)
        abort();
    free(back);
    free(ogg);
    free(pcm);
    return 0;
}
