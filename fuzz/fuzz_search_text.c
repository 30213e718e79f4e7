/* libFuzzer target: the words of a search query (memory_query_terms, both syntaxes: its stop
 * words, question frames, "when" and "you"), the highlighter over a memory text, and what the
 * text index reads from a memory text (its speaker label, whether it says when), and the year a
 * query's relative time names (its expression inside the query). The input is
 * "query\0text". Checks that the engine expression
 * never carries an operator character and that a highlight only adds markers and ellipses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/memory.h"
#include "brain/memory_impl.h"
#include "brain/speakers.h"
#include "core/time_words.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 2);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = in[size + 1] = 0;
    const char *q = in, *text = in + strlen(in) + (strlen(in) < size ? 1 : 0);
    char out[MEMORY_QUERY_MAX * 2 + 256];
    for (int pg = 0; pg <= 1; pg++) {
        if (strlen(q) > MEMORY_QUERY_MAX)
            break;
        int n = memory_query_terms(q, pg, out, sizeof out);
        if (n < 0 || n > MEMORY_QUERY_TERMS || strlen(out) >= sizeof out)
            abort();
        for (const char *c = "()*:^+-&!<>\\{}$%;="; *c; c++)
            if (strchr(out, *c))
                abort();
    }
    size_t from = 0, to = 0;
    int year = utf8_valid(q, strlen(q)) ? text_relative_year(q, 2026, 6, &from, &to) : 0;
    if (year && (year < 2026 - 99 || year > 2026 || from >= to || to > strlen(q)))
        abort();
    if (utf8_valid(text, strlen(text))) {
        char label[48];
        size_t n = speaker_label(NULL, "utterance", text, label, sizeof label);
        if (n >= sizeof label || strlen(label) != n || strncmp(label, text, n))
            abort(); /* a label is the text's own first bytes */
        (void)text_says_when(text);
    }
    char *hl = memory_highlight(q, text);
    if (hl) {
        /* Every byte of the highlight is from text, a marker or an ellipsis: it is never longer
         * than text plus those. */
        if (strlen(hl) > strlen(text) + 8 * 24 + 16)
            abort();
        free(hl);
    }
    free(in);
    return 0;
}
