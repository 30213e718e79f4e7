/* Helpers shared by the text extractors (not for use outside src/ingest/). */
#ifndef DP_INGEST_EXTRACT_IMPL_H
#define DP_INGEST_EXTRACT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define EX_TRY(x)                                                                                  \
    do {                                                                                           \
        int ex_try_err_ = (x);                                                                     \
        if (ex_try_err_)                                                                           \
            return ex_try_err_;                                                                    \
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

/* Lower-case ASCII comparison of p[0..n) with the NUL-terminated lower-case word w. */
int ex_ieq(const char *p, size_t n, const char *w);

#endif
