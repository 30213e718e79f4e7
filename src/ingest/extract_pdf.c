/* PDF text through pdftotext in a sandboxed subprocess, page by page. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"
#include "ingest/subprocess.h"

#define PDF_OUTPUT_MAX ((size_t)128 << 20) /* pdftotext -layout pads with spaces */

int ex_extract_pdf(const char *path, struct buf *text, size_t **pages, int *npages, char *err, size_t errlen)
{
    char parg[PATH_ARG_MAX];
    if (ex_path_arg(path, parg, sizeof parg)) {
        ex_set_err(err, errlen, "path too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"pdftotext", "-layout", "-enc", "UTF-8", parg, "-", NULL};
    struct subproc_limits lim;
    ex_decoder_limits(&lim);
    struct buf raw, fixed;
    buf_init(&raw, PDF_OUTPUT_MAX);
    buf_init(&fixed, PDF_OUTPUT_MAX + PDF_OUTPUT_MAX / 2);
    size_t *starts = NULL;
    int rc = subproc_run(argv, NULL, &lim, &raw, err, errlen);
    if (rc)
        goto out;
    /* pdftotext -enc UTF-8 should be valid; a broken font map must not make the text invalid. */
    if (utf8_valid(raw.data ? raw.data : "", raw.len)) {
        fixed = raw;
        buf_init(&raw, 0);
    } else {
        rc = ex_utf8_repair(raw.data ? raw.data : "", raw.len, &fixed);
        buf_cleanup(&raw);
        if (rc)
            goto out;
    }
    /* Each page ends with a form feed (the last one too). */
    size_t count = 0;
    for (size_t i = 0; i < fixed.len; i++)
        count += fixed.data[i] == '\f';
    if (fixed.len && fixed.data[fixed.len - 1] != '\f')
        count++;
    if (count > INT32_MAX) {
        rc = DP_ERR_TOO_LARGE;
        goto out;
    }
    starts = count ? calloc(count, sizeof *starts) : NULL;
    if (count && !starts) {
        rc = DP_ERR_NOMEM;
        goto out;
    }
    size_t pg = 0, a = 0;
    while (a < fixed.len && pg < count) {
        const char *ff = memchr(fixed.data + a, '\f', fixed.len - a);
        size_t e = ff ? (size_t)(ff - fixed.data) : fixed.len;
        /* A page starts after the blank line that ex_normalize puts before appended text. */
        size_t before = text->len;
        rc = ex_normalize(fixed.data + a, e - a, text);
        if (rc)
            goto out;
        size_t ps = before == text->len ? text->len : (before ? before + 2 : 0);
        /* pdftotext ends every printed line; a sentence must read as one (memories, quotes). */
        if (text->len > ps) {
            text->len = ps + extract_rejoin_lines(text->data + ps, text->len - ps);
            text->data[text->len] = 0;
        }
        starts[pg++] = ps;
        a = e + 1;
    }
    *pages = starts;
    *npages = (int)count;
    starts = NULL;
out:
    if (rc == DP_ERR_TOO_LARGE && err && !err[0])
        ex_set_err(err, errlen, "the PDF's text is too large", NULL);
    free(starts);
    buf_cleanup(&raw);
    buf_cleanup(&fixed);
    return rc;
}
