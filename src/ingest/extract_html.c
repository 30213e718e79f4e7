/* HTML → text: a small tag stripper that drops scripts, styles, <head> and comments. Never
 * executes or fetches anything; one pass, linear in the input (every search moves forward). */
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"

#define TAG_NAME_MAX 16

/* Elements whose whole content is dropped (raw text is skipped up to the matching end tag). */
static const char *const skip_elems[] = {"script", "style", "template", "noscript", "iframe",
                                         "object", "svg",   "math",     "textarea", NULL};
/* Elements that start a new line. */
static const char *const line_elems[] = {"br", "li", "tr", "dt", "dd", "option", "caption", NULL};
/* Elements that make a paragraph break (a heading stands between blank lines). */
static const char *const para_elems[] = {
    "p",       "div",     "h1",    "h2",      "h3",      "h4",         "h5",      "h6",   "table",
    "ul",      "ol",      "dl",    "section", "article", "blockquote", "pre",     "hr",   "header",
    "footer",  "nav",     "aside", "main",    "figure",  "figcaption", "address", "form", "fieldset",
    "details", "summary", "body",  "html",    "title",   "center",     "hgroup",  "menu", NULL,
};

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return 1;
    return 0;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Where the end tag </name …> of a raw-text element ends, searching from `from`; n if absent. */
static size_t skip_raw(const char *p, size_t n, size_t from, const char *name)
{
    size_t m = strlen(name);
    for (size_t i = from; i < n;) {
        const char *lt = memchr(p + i, '<', n - i);
        if (!lt)
            return n;
        i = (size_t)(lt - p);
        if (i + 2 + m <= n && p[i + 1] == '/' && ex_ieq(p + i + 2, m, name) &&
            (i + 2 + m == n || is_space((unsigned char)p[i + 2 + m]) || p[i + 2 + m] == '>' || p[i + 2 + m] == '/')) {
            const char *gt = memchr(p + i, '>', n - i);
            return gt ? (size_t)(gt - p) + 1 : n;
        }
        i++;
    }
    return n;
}

/* At p[i] == '<' of a tag: the index after its '>', honouring quoted attribute values. */
static size_t tag_end(const char *p, size_t n, size_t i)
{
    char quote = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return n;
}

struct html_state {
    struct buf *out;
    int in_head; /* text in <head> is dropped; it ends at </head> or <body> */
    int pre;     /* depth of <pre>: whitespace is kept there */
};

static int strip(const char *p, size_t n, struct html_state *st)
{
    struct buf *out = st->out;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c == '<') {
            if (i + 3 < n && p[i + 1] == '!' && p[i + 2] == '-' && p[i + 3] == '-') {
                size_t e = i + 4 <= n ? i + 4 : n;
                /* "<!-->" and "<!--->" are (empty) comments too. */
                if (e < n && p[e] == '>')
                    e = e + 1;
                else if (e + 1 < n && p[e] == '-' && p[e + 1] == '>')
                    e = e + 2;
                else {
                    const char *end = e < n ? memmem(p + e, n - e, "-->", 3) : NULL;
                    e = end ? (size_t)(end - p) + 3 : n;
                }
                i = e;
                continue;
            }
            if (i + 1 < n && (p[i + 1] == '!' || p[i + 1] == '?')) {
                if (i + 9 <= n && memcmp(p + i, "<![CDATA[", 9) == 0) {
                    const char *end = memmem(p + i + 9, n - i - 9, "]]>", 3);
                    i = end ? (size_t)(end - p) + 3 : n;
                } else {
                    const char *gt = memchr(p + i, '>', n - i);
                    i = gt ? (size_t)(gt - p) + 1 : n;
                }
                continue;
            }
            size_t j = i + 1;
            int closing = 0;
            if (j < n && p[j] == '/')
                closing = 1, j++;
            if (j >= n || !is_alpha((unsigned char)p[j])) {
                if (!st->in_head)
                    EX_TRY(buf_append(out, "<", 1));
                i++;
                continue;
            }
            char name[TAG_NAME_MAX + 1];
            size_t k = 0;
            while (j < n && !is_space((unsigned char)p[j]) && p[j] != '>' && p[j] != '/') {
                if (k < TAG_NAME_MAX) {
                    char ch = p[j];
                    name[k++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
                }
                j++;
            }
            name[k] = 0;
            size_t end = tag_end(p, n, j);
            if (!closing && in_list(name, skip_elems)) {
                i = skip_raw(p, n, end, name);
                continue;
            }
            i = end;
            if (strcmp(name, "head") == 0) {
                st->in_head = !closing;
                continue;
            }
            if (strcmp(name, "body") == 0 && !closing)
                st->in_head = 0;
            if (st->in_head)
                continue;
            if (strcmp(name, "pre") == 0) {
                if (closing)
                    st->pre -= st->pre > 0;
                else
                    st->pre++;
            }
            if (in_list(name, para_elems))
                EX_TRY(buf_append(out, "\n\n", 2));
            else if (!closing && in_list(name, line_elems))
                EX_TRY(buf_append(out, "\n", 1));
            else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
                EX_TRY(buf_append(out, " ", 1));
            continue;
        }
        if (st->in_head) {
            i++;
            continue;
        }
        if (c == '&') {
            size_t used;
            EX_TRY(ex_entity(p + i, n - i, out, &used));
            if (!used)
                EX_TRY(buf_append(out, "&", 1));
            i += used ? used : 1;
            continue;
        }
        if (is_space(c) && !st->pre) {
            EX_TRY(buf_append(out, " ", 1));
            i++;
            while (i < n && is_space((unsigned char)p[i]))
                i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && p[j] != '<' && p[j] != '&' && (st->pre || !is_space((unsigned char)p[j])))
            j++;
        EX_TRY(buf_append(out, p + i, j - i));
        i = j;
    }
    return DP_OK;
}

int extract_html(const char *p, size_t n, struct buf *out)
{
    size_t cap = out->max ? out->max * 2 + 16 : 0;
    struct buf dec, raw;
    buf_init(&dec, cap);
    buf_init(&raw, cap);
    int err = DP_OK;
    const char *src = p;
    size_t len = n;
    if (!utf8_valid(p, n)) {
        err = ex_decode(p, n, &dec);
        src = dec.data ? dec.data : "";
        len = dec.len;
    } else if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        src += 3, len -= 3;
    }
    if (!err) {
        struct html_state st = {&raw, 0, 0};
        err = strip(src, len, &st);
    }
    if (!err)
        err = ex_normalize(raw.data ? raw.data : "", raw.len, out);
    buf_cleanup(&raw);
    buf_cleanup(&dec);
    return err;
}

/* ---- DOCX: word/document.xml ---------------------------------------------------------------- */

/* The local part of a qualified name ("w:t" → "t"). */
static void local_name(const char *p, size_t n, char *name, size_t cap)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ':')
            start = i + 1;
    size_t k = 0;
    for (size_t i = start; i < n && k + 1 < cap; i++)
        name[k++] = p[i];
    name[k] = 0;
}

int extract_docx_xml(const char *p, size_t n, struct buf *out)
{
    size_t cap = out->max ? out->max * 2 + 16 : 0;
    struct buf dec, raw;
    buf_init(&dec, cap);
    buf_init(&raw, cap);
    int err = DP_OK;
    if (!utf8_valid(p, n)) {
        err = ex_decode(p, n, &dec);
        p = dec.data ? dec.data : "";
        n = dec.len;
    }
    int in_t = 0, in_ppr = 0, list_para = 0, cell = 0;
    size_t i = 0;
    while (!err && i < n) {
        if (p[i] != '<') {
            size_t j = i;
            while (j < n && p[j] != '<' && p[j] != '&')
                j++;
            if (in_t)
                err = buf_append(&raw, p + i, j - i);
            if (!err && j < n && p[j] == '&') {
                size_t used = 0;
                if (in_t)
                    err = ex_entity(p + j, n - j, &raw, &used);
                j += used ? used : 1;
            }
            i = j;
            continue;
        }
        if (i + 3 < n && memcmp(p + i, "<!--", 4) == 0) {
            const char *e = memmem(p + i + 4, n - i - 4, "-->", 3);
            i = e ? (size_t)(e - p) + 3 : n;
            continue;
        }
        if (i + 9 <= n && memcmp(p + i, "<![CDATA[", 9) == 0) {
            const char *e = memmem(p + i + 9, n - i - 9, "]]>", 3);
            size_t end = e ? (size_t)(e - p) : n;
            if (in_t)
                err = buf_append(&raw, p + i + 9, end - i - 9);
            i = e ? end + 3 : n;
            continue;
        }
        if (i + 1 < n && (p[i + 1] == '?' || p[i + 1] == '!')) {
            const char *gt = memchr(p + i, '>', n - i);
            i = gt ? (size_t)(gt - p) + 1 : n;
            continue;
        }
        size_t end = tag_end(p, n, i + 1);
        size_t j = i + 1;
        int closing = 0;
        if (j < n && p[j] == '/')
            closing = 1, j++;
        size_t nb = j;
        while (j < end && !is_space((unsigned char)p[j]) && p[j] != '>' && p[j] != '/')
            j++;
        int selfclosing = end >= 2 && p[end - 1] == '>' && p[end - 2] == '/';
        char name[32];
        local_name(p + nb, j - nb, name, sizeof name);
        i = end;
        if (strcmp(name, "pPr") == 0) {
            in_ppr = !closing && !selfclosing;
        } else if (in_ppr) {
            if (strcmp(name, "numPr") == 0)
                list_para = 1; /* tab stops etc. in paragraph properties are no text */
        } else if (strcmp(name, "t") == 0) {
            in_t = !closing && !selfclosing;
        } else if ((closing || selfclosing) && strcmp(name, "p") == 0) {
            in_t = 0;
            /* In a table cell, paragraphs run on: a row is one line. */
            err = cell ? buf_append(&raw, " ", 1) : buf_append(&raw, "\n\n", list_para ? 1 : 2);
            list_para = 0;
        } else if (strcmp(name, "tc") == 0 && !selfclosing) {
            cell += closing ? (cell > 0 ? -1 : 0) : 1;
            if (closing)
                err = buf_append(&raw, "\t", 1);
        } else if (!closing && strcmp(name, "tbl") == 0) {
            err = buf_append(&raw, "\n\n", 2);
        } else if (!closing && strcmp(name, "tab") == 0) {
            err = buf_append(&raw, "\t", 1);
        } else if (!closing && (strcmp(name, "br") == 0 || strcmp(name, "cr") == 0)) {
            err = buf_append(&raw, "\n", 1);
        } else if (!closing && strcmp(name, "noBreakHyphen") == 0) {
            err = buf_append(&raw, "-", 1);
        } else if (closing && strcmp(name, "tr") == 0) {
            err = buf_append(&raw, "\n", 1);
        } else if (closing && strcmp(name, "tbl") == 0) {
            err = buf_append(&raw, "\n\n", 2);
        }
    }
    if (!err)
        err = ex_normalize(raw.data ? raw.data : "", raw.len, out);
    buf_cleanup(&raw);
    buf_cleanup(&dec);
    return err;
}
