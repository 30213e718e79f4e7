/* Text extraction from uploaded documents: plain text, Markdown, HTML, PDF, DOCX, EPUB. */
#ifndef DP_INGEST_EXTRACT_H
#define DP_INGEST_EXTRACT_H

#include <stddef.h>

#include "core/buf.h"

#define EXTRACT_MAX_TEXT ((size_t)50 << 20)  /* extracted text, bytes */
#define EXTRACT_MAX_INPUT ((size_t)64 << 20) /* text/Markdown/HTML files read into memory */

struct extracted {
    char *text;          /* NUL-terminated, valid UTF-8, normalised (see below); owned */
    size_t len;          /* bytes in text (may be 0: e.g. a scanned PDF without a text layer) */
    size_t *page_starts; /* npages byte offsets into text where page 1, 2 … start (ascending,
                            the first is 0; a page without text starts where the text before it
                            ends); NULL when npages is 0; owned */
    int npages;          /* PDF: its page count; 0 for formats without pages */
};

/* Frees what extract_text() put into *x and zeroes it; safe on a zeroed or cleaned struct. */
void extracted_cleanup(struct extracted *x);

/* Extracts the text of the file at path. mime is the sniffed type (libmagic; parameters like
 * "; charset=…" are ignored); filename (the upload's name, may be NULL) decides only where the
 * type is generic: text/plain + .md → Markdown, application/zip or application/octet-stream or
 * NULL mime + .docx/.epub/.pdf/.md/.txt/.html → that format.
 *
 *   text/plain, text/csv      UTF-8 (BOM dropped), UTF-16 with a BOM, else Windows-1252
 *   text/markdown             markup dropped: headings, emphasis, code fences, link URLs …
 *   text/html, xhtml          own tag stripper (script/style/head contents and comments dropped)
 *   application/pdf           pdftotext -layout -enc UTF-8 (subprocess); pages from form feeds;
 *                             lines broken inside sentences rejoined (extract_rejoin_lines)
 *   …wordprocessingml.document (DOCX)   unzip -p word/document.xml (subprocess) → w:t text
 *   application/epub+zip      unzip (subprocess): the XHTML chapters in the OPF spine order
 *                             (file order when the container/OPF is missing or has no spine)
 *
 * The text is normalised: line ends are \n; runs of spaces and tabs (and U+00A0) are one space;
 * lines carry no leading or trailing spaces; at most one blank line separates paragraphs (a
 * blank line marks a paragraph, heading or page boundary); no control characters but \n; no
 * leading or trailing blank lines.
 *
 * Subprocesses run with subproc_run() limits: 30 s wall clock, 30 s CPU, 512 MiB address space,
 * capped output. Returns DP_OK and fills *out (release with extracted_cleanup()), or:
 *   DP_ERR_UNSUPPORTED  unknown type, or the decoder refused the file (damaged, encrypted …)
 *   DP_ERR_TOO_LARGE    input, decoder output or text (EXTRACT_MAX_TEXT) over its cap
 *   DP_ERR_TIMEOUT      a decoder hit its time or CPU limit
 *   DP_ERR_UNAVAILABLE  pdftotext/unzip is not installed
 *   DP_ERR_IO, DP_ERR_NOMEM
 * with a one-line reason in err[0..errlen) (err may be NULL). *out is zeroed on error. */
int extract_text(const char *path, const char *mime, const char *filename, struct extracted *out, char *err,
                 size_t errlen);

/* The in-memory converters extract_text() uses, for callers that already hold the bytes (and for
 * tests and fuzzing). Each takes arbitrary bytes p[0..n), never reads past them, and appends
 * normalised UTF-8 text (as above) to out, which must be buf_init()ed by the caller; its max caps
 * the result (DP_ERR_TOO_LARGE). Returns DP_OK, DP_ERR_TOO_LARGE or DP_ERR_NOMEM; on error out
 * holds partial text. Input that is not valid UTF-8 is read as Windows-1252. */
int extract_plain(const char *p, size_t n, struct buf *out);
int extract_markdown(const char *p, size_t n, struct buf *out);
int extract_html(const char *p, size_t n, struct buf *out);
/* word/document.xml of a DOCX: paragraphs (w:p) become lines, a blank line between paragraphs
 * except between list items; w:t text, w:tab, w:br; deleted text and field codes dropped. */
int extract_docx_xml(const char *p, size_t n, struct buf *out);
/* Rejoins lines of normalised text (one PDF page as pdftotext lays it out) that were broken
 * inside a sentence, in place; returns the new length. Paragraph breaks (blank lines) stay, and so
 * does a line end after a sentence (. ! ? : ; …, also inside closing quotes), before a list item
 * ("• ", "- ", "12. ", "a) "), and after a short line followed by a capital (a heading, an address
 * line: only a line at least 3/4 as wide as the page's widest is taken for wrapped then). A
 * joined line end becomes one space; a word hyphenated across it ("exam-" "ple") is made whole. */
size_t extract_rejoin_lines(char *text, size_t len);

#endif
