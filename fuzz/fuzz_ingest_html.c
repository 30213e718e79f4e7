/* libFuzzer target: the text extractors on arbitrary bytes (HTML tag stripper, and with it the
 * Markdown and DOCX-XML converters, plain text and the PDF line rejoiner on it), then passage
 * splitting of the result. Checks that the text
 * is always valid UTF-8 and that the passages cover it within their size bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/passages.h"

static int ws(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void check_passages(const char *t, size_t len)
{
    struct passage *p;
    int n;
    if (passages_split(t, len, NULL, 0, &p, &n) != DP_OK)
        abort();
    size_t covered = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].char_start >= p[i].char_end || p[i].char_end > len || p[i].words > PASSAGE_MAX_WORDS)
            abort();
        for (size_t k = covered; k < p[i].char_start; k++)
            if (!ws(t[k]))
                abort(); /* a gap with text in it */
        if (p[i].char_end > covered)
            covered = p[i].char_end;
        if (!utf8_valid(p[i].text, p[i].len) || p[i].len != p[i].context_len + p[i].char_end - p[i].char_start)
            abort();
    }
    for (size_t k = covered; k < len; k++)
        if (!ws(t[k]))
            abort();
    passages_free(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int (*const conv[])(const char *, size_t, struct buf *) = {extract_html, extract_markdown, extract_docx_xml,
                                                               extract_plain};
    for (size_t k = 0; k < sizeof conv / sizeof conv[0]; k++) {
        struct buf b;
        buf_init(&b, 1 << 20);
        int rc = conv[k]((const char *)data, size, &b);
        if (rc != DP_OK && rc != DP_ERR_TOO_LARGE)
            abort();
        if (b.len && !utf8_valid(b.data, b.len))
            abort();
        if (rc == DP_OK && k == 0 && b.len)
            check_passages(b.data, b.len);
        if (rc == DP_OK && k == 3 && b.len) {
            /* PDF line rejoining on normalised text: shorter or equal, still UTF-8, same words. */
            size_t n = extract_rejoin_lines(b.data, b.len);
            if (n > b.len || (n && !utf8_valid(b.data, n)))
                abort();
            b.data[n] = 0;
            check_passages(b.data, n);
        }
        buf_cleanup(&b);
    }
    return 0;
}
