/* Helpers shared by the text extractors (not for use outside src/ingest/). */
#ifndef DP_INGEST_EXTRACT_IMPL_H
#define DP_INGEST_EXTRACT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define EX_TRY(x)                                                                                                      \
    do {                                                                                                               \
        int ex_try_err_ = (x);                                                                                         \
        if (ex_try_err_)                                                                                               \
            return ex_try_err_;                                                                                        \
    } while (0)

/* Appends the UTF-8 encoding of cp; surrogates and values past U+10FFFF become U+FFFD. */
int ex_put_cp(struct buf *b, uint32_t cp);

/* At p[0] == '&': decodes one character reference (&amp; &lt; &gt; &quot; &apos; &#39; &nbsp;
 * — as a plain space — a few dozen other named ones, &#NNN; &#xHH;) and appends it to out.
 * *used gets the bytes consumed; 0 when this is not a reference (the caller emits '&'). */
int ex_entity(const char *p, size_t n, struct buf *out, size_t *used);

/* Appends p[0..n) (valid UTF-8) normalised as described in extract.h; a form feed counts as a
 * paragraph break. */
int ex_normalize(const char *p, size_t n, struct buf *out);

/* Appends p[0..n) as UTF-8: a UTF-8 BOM is dropped, UTF-16 with a BOM is converted, valid UTF-8
 * is copied, and anything else is read as Windows-1252. */
int ex_decode(const char *p, size_t n, struct buf *out);

/* Appends p[0..n) with every byte that does not start a well-formed UTF-8 sequence replaced by
 * U+FFFD. */
int ex_utf8_repair(const char *p, size_t n, struct buf *out);

/* ---- running decoders (extract_tools.c) ---- */

#define PATH_ARG_MAX 4096
struct subproc_limits;

/* The extension of a file's name, after its last dot ("" when none). */
const char *ex_extension(const char *filename);
/* err = "msg: detail" (or msg alone when detail is empty). */
void ex_set_err(char *err, size_t errlen, const char *msg, const char *detail);
/* A path as a program argument: absolute, since the child runs in "/" (which also keeps a name
 * starting with '-' from reading as an option). */
int ex_path_arg(const char *path, char *out, size_t outlen);
int64_t ex_now_ms(void); /* monotonic */
/* The sandbox of the single-threaded decoders (pdftotext, unzip): CPU, memory, files, no fork. */
void ex_decoder_limits(struct subproc_limits *lim);
/* Member `member` of the ZIP file zip, of at most max bytes, into out (initialised here), by
 * deadline (ex_now_ms). */
int ex_unzip_member(const char *zip, const char *member, size_t max, int64_t deadline, struct buf *out, char *err,
                    size_t errlen);

/* ---- the extractors of files (extract_pdf.c, extract_zip.c) ---- */

/* The text of a PDF, with where each page starts in it (*pages malloc'd, *npages). */
int ex_extract_pdf(const char *path, struct buf *text, size_t **pages, int *npages, char *err, size_t errlen);
int ex_extract_docx(const char *path, struct buf *text, char *err, size_t errlen);
int ex_extract_epub(const char *path, struct buf *text, char *err, size_t errlen);

/* Lower-case ASCII comparison of p[0..n) with the NUL-terminated lower-case word w. */
int ex_ieq(const char *p, size_t n, const char *w);

#endif
