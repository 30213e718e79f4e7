/* libFuzzer target: a remote recogniser's answer (stt_openai_answer: OpenAI / Whisper-compatible
 * verbose_json or whisper.cpp's; stt_deepgram_answer). Input: one byte choosing the parser (even:
 * OpenAI, odd: Deepgram), then the JSON. An accepted answer has valid UTF-8 text, a confidence in
 * 0 … 1 and words with times that no recording contradicts. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "providers/stt_remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *answer = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    struct stt_result r;
    memset(&r, 0, sizeof r);
    char why[256] = "";
    int err =
        data[0] % 2 ? stt_deepgram_answer(answer, &r, why, sizeof why) : stt_openai_answer(answer, &r, why, sizeof why);
    if (err == DP_OK) {
        if (!r.text || !utf8_valid(r.text, strlen(r.text)) || !(r.confidence >= 0 && r.confidence <= 1))
            abort();
        for (int i = 0; i < r.n_words; i++)
            if (r.words[i].start_ms < 0 || r.words[i].end_ms < r.words[i].start_ms || !r.words[i].word[0] ||
                !(r.words[i].confidence >= 0 && r.words[i].confidence <= 1))
                abort();
    } else if (!why[0] && err != DP_ERR_NOMEM) {
        abort();
    }
    stt_result_free(&r);
    json_decref(answer);
    return 0;
}
