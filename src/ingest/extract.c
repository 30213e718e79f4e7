/* extract_text(): picks the extractor for a file's type; PDF, DOCX and EPUB go through sandboxed
 * subprocesses (pdftotext, unzip), the text formats are converted in-process. */
#include "ingest/extract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/text.h"
#include "ingest/extract_impl.h"

enum kind { K_NONE, K_TEXT, K_MARKDOWN, K_HTML, K_PDF, K_DOCX, K_EPUB };

void extracted_cleanup(struct extracted *x)
{
    free(x->text);
    free(x->page_starts);
    memset(x, 0, sizeof *x);
}

static enum kind kind_of(const char *mime, const char *filename)
{
    char m[128] = "";
    if (mime) {
        while (*mime == ' ')
            mime++;
        size_t k = 0;
        for (; mime[k] && mime[k] != ';' && mime[k] != ' ' && k + 1 < sizeof m; k++)
            m[k] = (char)(mime[k] >= 'A' && mime[k] <= 'Z' ? mime[k] - 'A' + 'a' : mime[k]);
        m[k] = 0;
    }
    const char *ext = ex_extension(filename);
    size_t el = strlen(ext);
    int md = ex_ieq(ext, el, "md") || ex_ieq(ext, el, "markdown") || ex_ieq(ext, el, "mdown") || ex_ieq(ext, el, "mkd");
    int html = ex_ieq(ext, el, "html") || ex_ieq(ext, el, "htm") || ex_ieq(ext, el, "xhtml");

    if (!strcmp(m, "text/markdown") || !strcmp(m, "text/x-markdown"))
        return K_MARKDOWN;
    if (!strcmp(m, "text/html") || !strcmp(m, "application/xhtml+xml"))
        return K_HTML;
    if (!strcmp(m, "application/pdf"))
        return K_PDF;
    if (!strcmp(m, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
        return K_DOCX;
    if (!strcmp(m, "application/epub+zip"))
        return K_EPUB;
    if (!strcmp(m, "text/plain"))
        return md ? K_MARKDOWN : html ? K_HTML : K_TEXT;
    if (!strcmp(m, "text/csv") || !strcmp(m, "text/tab-separated-values"))
        return K_TEXT;
    if (!strcmp(m, "application/zip") || !strcmp(m, "application/octet-stream") || !m[0]) {
        if (ex_ieq(ext, el, "docx"))
            return K_DOCX;
        if (ex_ieq(ext, el, "epub"))
            return K_EPUB;
        if (strcmp(m, "application/zip") == 0)
            return K_NONE;
        if (ex_ieq(ext, el, "pdf"))
            return K_PDF;
        if (md)
            return K_MARKDOWN;
        if (html)
            return K_HTML;
        if (ex_ieq(ext, el, "txt") || ex_ieq(ext, el, "text"))
            return K_TEXT;
    }
    return K_NONE;
}

/* Reads a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        ex_set_err(err, errlen, "cannot open the file", strerror(errno));
        return DP_ERR_IO;
    }
    struct stat sb;
    int rc = DP_OK;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        ex_set_err(err, errlen, "not a regular file", NULL);
        rc = DP_ERR_IO;
        goto out_close;
    }
    if ((uint64_t)sb.st_size > max) {
        ex_set_err(err, errlen, "file too large for text extraction", NULL);
        rc = DP_ERR_TOO_LARGE;
        goto out_close;
    }
    buf_init(out, max);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ex_set_err(err, errlen, "read failed", strerror(errno));
            rc = DP_ERR_IO;
            break;
        }
        if (r == 0)
            break;
        rc = buf_append(out, chunk, (size_t)r);
        if (rc) {
            ex_set_err(err, errlen, "file too large for text extraction", NULL);
            break;
        }
    }
out_close:
    close(fd);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int extract_text(const char *path, const char *mime, const char *filename, struct extracted *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    enum kind k = kind_of(mime, filename);
    if (k == K_NONE) {
        ex_set_err(err, errlen, "no text extractor for this type", mime);
        return DP_ERR_UNSUPPORTED;
    }
    struct buf text, in;
    buf_init(&text, EXTRACT_MAX_TEXT);
    buf_init(&in, 0);
    size_t *pages = NULL;
    int npages = 0, rc;
    switch (k) {
    case K_TEXT:
    case K_MARKDOWN:
    case K_HTML:
        rc = read_file(path, EXTRACT_MAX_INPUT, &in, err, errlen);
        if (rc)
            break;
        const char *p = in.data ? in.data : "";
        rc = k == K_TEXT       ? extract_plain(p, in.len, &text)
             : k == K_MARKDOWN ? extract_markdown(p, in.len, &text)
                               : extract_html(p, in.len, &text);
        break;
    case K_PDF:
        rc = ex_extract_pdf(path, &text, &pages, &npages, err, errlen);
        break;
    case K_DOCX:
        rc = ex_extract_docx(path, &text, err, errlen);
        break;
    case K_EPUB:
        rc = ex_extract_epub(path, &text, err, errlen);
        break;
    default:
        rc = DP_ERR_UNSUPPORTED;
        break;
    }
    buf_cleanup(&in);
    if (rc) {
        if (rc == DP_ERR_TOO_LARGE && err && !err[0])
            ex_set_err(err, errlen, "the extracted text is too large", NULL);
        else if (err && !err[0])
            ex_set_err(err, errlen, dp_strerror(rc), NULL);
        free(pages);
        buf_cleanup(&text);
        return rc;
    }
    if (!text.data && (rc = buf_append(&text, "", 0))) {
        free(pages);
        return rc;
    }
    out->text = buf_steal(&text, &out->len);
    out->page_starts = pages;
    out->npages = npages;
    return DP_OK;
}
