/* libFuzzer target: a language model's streamed answer (providers/llm.h llm_openai_line), line by
 * line as the HTTP client hands it over, its pieces then through the citation marks filter
 * (brain/cite_marks.h) as the generative brain runs them. Checks that every piece handed on is
 * counted, that the filter's output never holds more than it was fed, and that citations name
 * only memories offered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/cite_marks.h"
#include "core/buf.h"
#include "providers/llm.h"

static const char *const ids[] = {"0190f0a0-0000-7000-8000-000000000001", "0190f0a0-0000-7000-8000-000000000002"};

struct run {
    struct cite_marks marks;
    size_t pieces, fed, out;
};

static void on_text(void *ctx, const char *text, size_t len)
{
    struct run *r = ctx;
    (void)text;
    r->out += len;
}

static int on_delta(void *ctx, const char *text, size_t len)
{
    struct run *r = ctx;
    r->pieces++;
    r->fed += len;
    cite_marks_feed(&r->marks, text, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct llm_result res = {.prompt_tokens = -1, .completion_tokens = -1};
    struct llm_openai_parse p = {0, 0, "", &res};
    struct run r = {0};
    cite_marks_init(&r.marks, ids, 2, on_text, &r);
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && copy[i] != '\n')
            continue;
        copy[i] = 0;
        llm_openai_line(&p, copy + start, i - start, on_delta, &r);
        start = i + 1;
    }
    cite_marks_end(&r.marks);
    if (r.pieces != res.deltas || r.out > r.fed)
        abort();
    for (int i = 0; i < r.marks.ncited; i++)
        if (r.marks.cited[i] < 0 || r.marks.cited[i] >= 2)
            abort();
    cite_marks_cleanup(&r.marks);
    free(copy);
    return 0;
}
