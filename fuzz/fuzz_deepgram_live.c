/* libFuzzer target: one text message of Deepgram's live stream (stt_deepgram_live_message:
 * Results, Metadata, Error, others). An accepted Results has valid UTF-8 text, a confidence in
 * 0 … 1 and words with times no recording contradicts; a refusal says why; an Error's description
 * is valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "providers/stt_remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dg_live_msg m;
    char why[256] = "";
    int err = stt_deepgram_live_message((const char *)data, size, &m, why, sizeof why);
    if (err == DP_OK && m.kind == DG_LIVE_RESULTS) {
        const struct stt_result *r = &m.alt;
        if (!r->text || !utf8_valid(r->text, strlen(r->text)) || !(r->confidence >= 0 && r->confidence <= 1))
            abort();
        for (int i = 0; i < r->n_words; i++)
            if (r->words[i].start_ms < 0 || r->words[i].end_ms < r->words[i].start_ms || !r->words[i].word[0] ||
                !(r->words[i].confidence >= 0 && r->words[i].confidence <= 1))
                abort();
    } else if (err == DP_OK && m.kind == DG_LIVE_ERROR) {
        if (!utf8_valid(m.why, strlen(m.why)))
            abort();
    } else if (err != DP_OK && !why[0] && err != DP_ERR_NOMEM) {
        abort();
    }
    stt_result_free(&m.alt);
    return 0;
}
