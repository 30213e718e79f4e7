/* Markdown → text: keeps the words, drops the markup (headings' #, emphasis, code fences, link
 * URLs, images' URLs, reference definitions, table rules, HTML tags). Line by line; every search
 * is either bounded or memoised, so the work stays linear in the input. */
#include <string.h>

#include "core/err.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"

#define MAX_DEPTH 4        /* link text inside link text … */
#define CODE_SCAN_MAX 4096 /* how far a code span looks for its closing backticks */
#define LINK_SCAN_MAX 2048 /* how far a link looks for its closing bracket or parenthesis */
#define LINK_NEST_MAX 8    /* brackets nested inside link text */

static int is_sp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int is_punct(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

/* One line being converted. next_closer[] memoises "the next run at or after some position": it
 * stays right while the positions asked about only grow, which they do within a line. */
struct line_ctx {
    const char *s;
    size_t n;
    int table;             /* a table row: '|' becomes a space */
    size_t next_closer[3]; /* next right-flanking run of '*', '_', '~' */
    int open[3];           /* emphasis runs opened and not yet closed */
};

static int emph_index(char c)
{
    return c == '*' ? 0 : c == '_' ? 1 : 2;
}

/* Whether the run of c at s[k..k+r) can close emphasis. */
static int run_closes(const char *s, size_t n, size_t k, size_t r, char c)
{
    unsigned char prev = k ? (unsigned char)s[k - 1] : ' ';
    unsigned char next = k + r < n ? (unsigned char)s[k + r] : ' ';
    if (is_sp(prev))
        return 0;
    if (c == '_' && is_alnum(next))
        return 0;
    if (c == '~' && r < 2)
        return 0;
    return 1;
}

static size_t next_closer(struct line_ctx *l, size_t from, char c)
{
    size_t *memo = &l->next_closer[emph_index(c)];
    if (*memo != (size_t)-1 && *memo >= from)
        return *memo;
    size_t k = from;
    while (k < l->n) {
        const char *p = memchr(l->s + k, c, l->n - k);
        if (!p)
            break;
        k = (size_t)(p - l->s);
        size_t r = 1;
        while (k + r < l->n && l->s[k + r] == c)
            r++;
        if (run_closes(l->s, l->n, k, r, c))
            return *memo = k;
        k += r;
    }
    return *memo = l->n;
}

static int inline_md(struct line_ctx *l, size_t from, size_t to, struct buf *out, int depth);

/* The index of the bracket closing the one just before `from` (open/close nest, backslash escapes
 * skip a character); `to` when there is none within LINK_SCAN_MAX bytes or LINK_NEST_MAX levels.
 * The nesting cap keeps the total work linear: only a few scans can share a long stretch. */
static size_t match_close(const char *s, size_t from, size_t to, char open, char close)
{
    int depth = 1;
    size_t limit = to - from > LINK_SCAN_MAX ? from + LINK_SCAN_MAX : to;
    for (size_t k = from; k < limit; k++) {
        char c = s[k];
        if (c == '\\') {
            k++;
        } else if (c == open) {
            if (++depth > LINK_NEST_MAX)
                return to;
        } else if (c == close) {
            if (--depth == 0)
                return k;
        }
    }
    return to;
}

/* Link or image at s[i] == '[': on success appends the text and sets *next past the link. */
static int try_link(struct line_ctx *l, size_t i, size_t to, struct buf *out, int depth, size_t *next)
{
    *next = 0;
    size_t b = match_close(l->s, i + 1, to, '[', ']');
    if (b + 1 >= to)
        return DP_OK;
    size_t e;
    if (l->s[b + 1] == '(')
        e = match_close(l->s, b + 2, to, '(', ')');
    else if (l->s[b + 1] == '[')
        e = match_close(l->s, b + 2, to, '[', ']');
    else
        return DP_OK;
    if (e >= to)
        return DP_OK;
    EX_TRY(inline_md(l, i + 1, b, out, depth + 1));
    *next = e + 1;
    return DP_OK;
}

static int inline_md(struct line_ctx *l, size_t from, size_t to, struct buf *out, int depth)
{
    const char *s = l->s;
    if (depth > MAX_DEPTH)
        return buf_append(out, s + from, to - from);
    size_t i = from;
    while (i < to) {
        char c = s[i];
        if (c == '\\' && i + 1 < to && is_punct((unsigned char)s[i + 1])) {
            EX_TRY(buf_append(out, s + i + 1, 1));
            i += 2;
            continue;
        }
        if (c == '`') {
            size_t r = 1;
            while (i + r < to && s[i + r] == '`')
                r++;
            size_t k = i + r, limit = to - k > CODE_SCAN_MAX ? k + CODE_SCAN_MAX : to, close = 0;
            while (k < limit) {
                if (s[k] != '`') {
                    k++;
                    continue;
                }
                size_t rr = 1;
                while (k + rr < to && s[k + rr] == '`')
                    rr++;
                if (rr == r) {
                    close = k;
                    break;
                }
                k += rr;
            }
            if (!close) {
                EX_TRY(buf_append(out, s + i, r));
                i += r;
                continue;
            }
            size_t a = i + r, z = close;
            if (z - a >= 2 && s[a] == ' ' && s[z - 1] == ' ')
                a++, z--;
            EX_TRY(buf_append(out, s + a, z - a));
            i = close + r;
            continue;
        }
        if (c == '[' || (c == '!' && i + 1 < to && s[i + 1] == '[')) {
            size_t at = c == '!' ? i + 1 : i, next;
            EX_TRY(try_link(l, at, to, out, depth, &next));
            if (next) {
                i = next;
                continue;
            }
            EX_TRY(buf_append(out, s + i, 1));
            i++;
            continue;
        }
        if (c == '<') {
            size_t k = i + 1;
            int closing = k < to && s[k] == '/';
            k += (size_t)closing;
            if (k < to && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z'))) {
                const char *gt = memchr(s + k, '>', to - k);
                if (gt) {
                    size_t g = (size_t)(gt - s);
                    const char *colon = memchr(s + k, ':', g - k);
                    const char *at = memchr(s + k, '@', g - k);
                    const char *sp = memchr(s + k, ' ', g - k);
                    if (!closing && !sp && (colon || at))
                        EX_TRY(buf_append(out, s + i + 1, g - i - 1)); /* <https://…>, <a@b> */
                    i = g + 1;                                         /* an inline HTML tag: dropped */
                    continue;
                }
            }
            EX_TRY(buf_append(out, "<", 1));
            i++;
            continue;
        }
        if (c == '*' || c == '_' || c == '~') {
            size_t r = 1;
            while (i + r < to && s[i + r] == c)
                r++;
            unsigned char prev = i ? (unsigned char)s[i - 1] : ' ';
            unsigned char nxt = i + r < l->n ? (unsigned char)s[i + r] : ' ';
            int idx = emph_index(c);
            int opens = !is_sp(nxt) && !(c == '_' && is_alnum(prev)) && !(c == '~' && r < 2);
            int closes = run_closes(s, l->n, i, r, c);
            int drop = 0;
            if (closes && l->open[idx] > 0) {
                l->open[idx]--;
                drop = 1;
            } else if (opens && next_closer(l, i + r, c) < l->n) {
                l->open[idx]++;
                drop = 1;
            }
            if (!drop)
                EX_TRY(buf_append(out, s + i, r));
            i += r;
            continue;
        }
        if (c == '&') {
            size_t used;
            EX_TRY(ex_entity(s + i, to - i, out, &used));
            if (!used)
                EX_TRY(buf_append(out, "&", 1));
            i += used ? used : 1;
            continue;
        }
        if (c == '|' && l->table) {
            EX_TRY(buf_append(out, " ", 1));
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < to && !strchr("\\`[!<*_~&|", s[j]))
            j++;
        EX_TRY(buf_append(out, s + i, j - i));
        i = j;
    }
    return DP_OK;
}

/* A line made only of c (at least min of them) and spaces. */
static int rule_line(const char *s, size_t n, char c, size_t min)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == c)
            count++;
        else if (!is_sp((unsigned char)s[i]))
            return 0;
    }
    return count >= min;
}

/* A table delimiter row such as "|---|:--:|". */
static int table_rule(const char *s, size_t n)
{
    int dash = 0, bar = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dash = 1;
        else if (s[i] == '|')
            bar = 1;
        else if (s[i] != ':' && !is_sp((unsigned char)s[i]))
            return 0;
    }
    return dash && bar;
}

/* "[label]: destination" */
static int reference_def(const char *s, size_t n)
{
    if (n < 4 || s[0] != '[' || s[1] == '^')
        return 0;
    const char *b = memchr(s, ']', n);
    return b && (size_t)(b - s) + 1 < n && b[1] == ':';
}

static int emit_line(const char *s, size_t n, struct buf *out, int table)
{
    struct line_ctx l = {.s = s, .n = n, .table = table, .next_closer = {(size_t)-1, (size_t)-1, (size_t)-1}};
    EX_TRY(inline_md(&l, 0, n, out, 0));
    return buf_append(out, "\n", 1);
}

static int convert(const char *p, size_t n, struct buf *out)
{
    int in_fence = 0;
    char fence_c = 0;
    size_t fence_n = 0, prev_len = 0; /* prev_len: the previous line was text (setext headings) */
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) : n;
        const char *s = p + i;
        size_t len = e - i;
        i = nl ? e + 1 : n;
        if (len && s[len - 1] == '\r')
            len--;
        size_t ind = 0;
        while (ind < len && ind < 4 && s[ind] == ' ')
            ind++;
        const char *t = s + ind;
        size_t tl = len - ind;

        if (in_fence) {
            size_t k = 0;
            while (k < tl && t[k] == fence_c)
                k++;
            if (ind < 4 && k >= fence_n && rule_line(t, tl, fence_c, k)) {
                in_fence = 0;
                EX_TRY(buf_append(out, "\n", 1));
            } else {
                EX_TRY(buf_append(out, s, len));
                EX_TRY(buf_append(out, "\n", 1));
            }
            continue;
        }
        if (ind < 4 && tl >= 3 && (t[0] == '`' || t[0] == '~') && t[1] == t[0] && t[2] == t[0]) {
            size_t k = 3;
            while (k < tl && t[k] == t[0])
                k++;
            if (t[0] == '~' || !memchr(t + k, '`', tl - k)) {
                in_fence = 1, fence_c = t[0], fence_n = k;
                EX_TRY(buf_append(out, "\n", 1));
                prev_len = 0;
                continue;
            }
        }
        if (ind == len) { /* blank */
            EX_TRY(buf_append(out, "\n", 1));
            prev_len = 0;
            continue;
        }
        if (ind >= 4) { /* indented code: its text as it is */
            EX_TRY(buf_append(out, s, len));
            EX_TRY(buf_append(out, "\n", 1));
            prev_len = len;
            continue;
        }
        /* Block quotes: drop the markers. */
        while (tl && t[0] == '>') {
            t++, tl--;
            if (tl && is_sp((unsigned char)t[0]))
                t++, tl--;
        }
        while (tl && is_sp((unsigned char)t[0]))
            t++, tl--;
        if (!tl) {
            EX_TRY(buf_append(out, "\n", 1));
            prev_len = 0;
            continue;
        }
        /* ATX heading. */
        size_t h = 0;
        while (h < tl && h < 7 && t[h] == '#')
            h++;
        if (h >= 1 && h <= 6 && (h == tl || is_sp((unsigned char)t[h]))) {
            size_t a = h, z = tl;
            while (a < z && is_sp((unsigned char)t[a]))
                a++;
            while (z > a && is_sp((unsigned char)t[z - 1]))
                z--;
            size_t zz = z;
            while (zz > a && t[zz - 1] == '#')
                zz--;
            if (zz == a || is_sp((unsigned char)t[zz - 1]))
                z = zz; /* closing #s */
            EX_TRY(buf_append(out, "\n\n", 2));
            EX_TRY(emit_line(t + a, z - a, out, 0));
            EX_TRY(buf_append(out, "\n", 1));
            prev_len = 0;
            continue;
        }
        /* Setext underline (the line above was the heading) or a thematic break. */
        if ((prev_len && (rule_line(t, tl, '=', 1) || rule_line(t, tl, '-', 1))) || rule_line(t, tl, '-', 3) ||
            rule_line(t, tl, '*', 3) || rule_line(t, tl, '_', 3)) {
            EX_TRY(buf_append(out, "\n", 1));
            prev_len = 0;
            continue;
        }
        if (reference_def(t, tl) || table_rule(t, tl)) {
            prev_len = 0;
            continue;
        }
        /* List markers: bullets go, numbers stay; then a task box. */
        if (tl >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && is_sp((unsigned char)t[1])) {
            t += 2, tl -= 2;
            while (tl && is_sp((unsigned char)t[0]))
                t++, tl--;
            if (tl >= 3 && t[0] == '[' && t[2] == ']' && (t[1] == ' ' || t[1] == 'x' || t[1] == 'X'))
                t += 3, tl -= 3;
        }
        EX_TRY(emit_line(t, tl, out, tl && (t[0] == '|' || t[tl - 1] == '|')));
        prev_len = tl;
    }
    return DP_OK;
}

int extract_markdown(const char *p, size_t n, struct buf *out)
{
    size_t cap = out->max ? out->max * 2 + 16 : 0;
    struct buf dec, raw;
    buf_init(&dec, cap);
    buf_init(&raw, cap);
    int err = ex_decode(p, n, &dec);
    if (!err)
        err = convert(dec.data ? dec.data : "", dec.len, &raw);
    if (!err)
        err = ex_normalize(raw.data ? raw.data : "", raw.len, out);
    buf_cleanup(&raw);
    buf_cleanup(&dec);
    return err;
}
