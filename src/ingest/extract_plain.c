/* Plain-text decoding (UTF-8, UTF-16, Windows-1252), character references and normalisation. */
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"

/* Windows-1252 0x80..0x9F; 0 marks the five undefined bytes (dropped). */
static const uint16_t cp1252_c1[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

int ex_put_cp(struct buf *b, uint32_t cp)
{
    char s[4];
    return buf_append(b, s, utf8_encode(cp, s)); /* a surrogate or > U+10FFFF becomes U+FFFD */
}

int ex_ieq(const char *p, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != w[i])
            return 0;
    }
    return i == n && !w[i];
}

struct named_ref {
    const char *name;
    uint32_t cp;
};

/* The references seen in real documents; anything else stays as written. */
static const struct named_ref named_refs[] = {
    {"amp", '&'},       {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},     {"nbsp", ' '},
    {"ensp", ' '},      {"emsp", ' '},     {"thinsp", ' '},   {"shy", 0},        {"zwnj", 0},        {"zwj", 0},
    {"lrm", 0},         {"rlm", 0},        {"copy", 0xa9},    {"reg", 0xae},     {"trade", 0x2122},  {"hellip", 0x2026},
    {"mdash", 0x2014},  {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"sbquo", 0x201a},  {"ldquo", 0x201c},
    {"rdquo", 0x201d},  {"bdquo", 0x201e}, {"laquo", 0xab},   {"raquo", 0xbb},   {"bull", 0x2022},   {"middot", 0xb7},
    {"deg", 0xb0},      {"times", 0xd7},   {"divide", 0xf7},  {"plusmn", 0xb1},  {"euro", 0x20ac},   {"pound", 0xa3},
    {"yen", 0xa5},      {"cent", 0xa2},    {"sect", 0xa7},    {"para", 0xb6},    {"dagger", 0x2020}, {"iexcl", 0xa1},
    {"iquest", 0xbf},   {"frac12", 0xbd},  {"frac14", 0xbc},  {"frac34", 0xbe},  {"sup2", 0xb2},     {"sup3", 0xb3},
    {"micro", 0xb5},    {"larr", 0x2190},  {"rarr", 0x2192},  {"uarr", 0x2191},  {"darr", 0x2193},   {"harr", 0x2194},
    {"hearts", 0x2665}, {"agrave", 0xe0},  {"aacute", 0xe1},  {"acirc", 0xe2},   {"atilde", 0xe3},   {"auml", 0xe4},
    {"aring", 0xe5},    {"aelig", 0xe6},   {"ccedil", 0xe7},  {"egrave", 0xe8},  {"eacute", 0xe9},   {"ecirc", 0xea},
    {"euml", 0xeb},     {"igrave", 0xec},  {"iacute", 0xed},  {"icirc", 0xee},   {"iuml", 0xef},     {"ntilde", 0xf1},
    {"ograve", 0xf2},   {"oacute", 0xf3},  {"ocirc", 0xf4},   {"otilde", 0xf5},  {"ouml", 0xf6},     {"oslash", 0xf8},
    {"ugrave", 0xf9},   {"uacute", 0xfa},  {"ucirc", 0xfb},   {"uuml", 0xfc},    {"yacute", 0xfd},   {"yuml", 0xff},
    {"szlig", 0xdf},    {"Agrave", 0xc0},  {"Aacute", 0xc1},  {"Acirc", 0xc2},   {"Auml", 0xc4},     {"Aring", 0xc5},
    {"AElig", 0xc6},    {"Ccedil", 0xc7},  {"Egrave", 0xc8},  {"Eacute", 0xc9},  {"Ecirc", 0xca},    {"Iacute", 0xcd},
    {"Ntilde", 0xd1},   {"Oacute", 0xd3},  {"Ouml", 0xd6},    {"Oslash", 0xd8},  {"Uacute", 0xda},   {"Uuml", 0xdc},
    {"oelig", 0x153},   {"OElig", 0x152},  {"scaron", 0x161}, {"Scaron", 0x160}, {"alpha", 0x3b1},   {"beta", 0x3b2},
    {"gamma", 0x3b3},   {"delta", 0x3b4},  {"pi", 0x3c0},     {"sigma", 0x3c3},  {"omega", 0x3c9},   {"mu", 0x3bc},
    {"lambda", 0x3bb},  {"infin", 0x221e}, {"ne", 0x2260},    {"le", 0x2264},    {"ge", 0x2265},     {"asymp", 0x2248},
    {"minus", 0x2212},  {"prime", 0x2032}, {"Prime", 0x2033}, {"ordf", 0xaa},    {"ordm", 0xba},
};

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int ex_entity(const char *p, size_t n, struct buf *out, size_t *used)
{
    *used = 0;
    if (n < 3 || p[0] != '&')
        return DP_OK;
    if (p[1] == '#') {
        size_t i = 2;
        int hex = 0;
        if (i < n && (p[i] == 'x' || p[i] == 'X'))
            hex = 1, i++;
        size_t d0 = i;
        uint32_t cp = 0;
        for (; i < n && i - d0 < 8; i++) {
            unsigned char c = (unsigned char)p[i];
            int v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
            else
                break;
            cp = cp * (hex ? 16u : 10u) + (uint32_t)v;
        }
        if (i == d0)
            return DP_OK;
        while (i < n && ((p[i] >= '0' && p[i] <= '9') || (hex && is_alnum((unsigned char)p[i]))))
            i++, cp = 0x110000; /* absurdly long: out of range */
        if (i < n && p[i] == ';')
            i++;
        *used = i;
        if (cp == 0)
            cp = 0xfffd;
        else if (cp >= 0x80 && cp <= 0x9f && cp1252_c1[cp - 0x80])
            cp = cp1252_c1[cp - 0x80]; /* as browsers do */
        return ex_put_cp(out, cp);
    }
    size_t i = 1;
    while (i < n && i <= 8 && is_alnum((unsigned char)p[i]))
        i++;
    if (i == 1 || i >= n || p[i] != ';')
        return DP_OK;
    size_t len = i - 1;
    for (size_t k = 0; k < sizeof named_refs / sizeof named_refs[0]; k++) {
        const char *nm = named_refs[k].name;
        if (strlen(nm) == len && memcmp(nm, p + 1, len) == 0) {
            *used = i + 1;
            return named_refs[k].cp ? ex_put_cp(out, named_refs[k].cp) : DP_OK;
        }
    }
    return DP_OK;
}

int ex_utf8_repair(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        size_t l = utf8_decode(p + i, n - i, NULL);
        if (l) {
            i += l;
            continue;
        }
        EX_TRY(buf_append(out, s + run, i - run));
        EX_TRY(ex_put_cp(out, 0xfffd));
        run = ++i;
    }
    return buf_append(out, s + run, n - run);
}

static int decode_cp1252(const unsigned char *p, size_t n, struct buf *out)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80)
            continue;
        EX_TRY(buf_append(out, p + run, i - run));
        uint32_t cp = p[i] < 0xa0 ? cp1252_c1[p[i] - 0x80] : p[i];
        if (cp)
            EX_TRY(ex_put_cp(out, cp));
        run = i + 1;
    }
    return buf_append(out, p + run, n - run);
}

static int decode_utf16(const unsigned char *p, size_t n, int big_endian, struct buf *out)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = big_endian ? (uint32_t)(p[i] << 8 | p[i + 1]) : (uint32_t)(p[i + 1] << 8 | p[i]);
        if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
            uint32_t lo = big_endian ? (uint32_t)(p[i + 2] << 8 | p[i + 3]) : (uint32_t)(p[i + 3] << 8 | p[i + 2]);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
        }
        EX_TRY(ex_put_cp(out, u)); /* a lone surrogate becomes U+FFFD */
    }
    return DP_OK;
}

int ex_decode(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        p += 3, n -= 3;
    else if (n >= 2 && p[0] == 0xff && p[1] == 0xfe)
        return decode_utf16(p + 2, n - 2, 0, out);
    else if (n >= 2 && p[0] == 0xfe && p[1] == 0xff)
        return decode_utf16(p + 2, n - 2, 1, out);
    if (utf8_valid((const char *)p, n))
        return buf_append(out, p, n);
    return decode_cp1252(p, n, out);
}

int ex_normalize(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Text already in out counts: a paragraph appended after it starts after a blank line. */
    int started = out->len > 0, space = 0, newlines = started ? 2 : 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c == ' ' || c == '\t' || c == '\v') {
            space = 1, i++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            newlines++;
            i += (c == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c == '\f') {
            newlines += 2, i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            i++;
            continue;
        }
        size_t len = 1;
        if (c >= 0x80) {
            len = utf8_decode(p + i, n - i, NULL);
            if (!len) { /* callers pass valid UTF-8; be safe anyway */
                i++;
                continue;
            }
            if (c == 0xc2 && p[i + 1] == 0xa0) { /* U+00A0 */
                space = 1, i += 2;
                continue;
            }
            if ((c == 0xc2 && p[i + 1] < 0xa0) || (c == 0xef && p[i + 1] == 0xbb && p[i + 2] == 0xbf)) {
                i += len; /* C1 controls, U+FEFF */
                continue;
            }
        }
        if (started) {
            if (newlines)
                EX_TRY(buf_append(out, "\n\n", newlines > 1 ? 2 : 1));
            else if (space)
                EX_TRY(buf_append(out, " ", 1));
        }
        /* Copy the run of ordinary bytes in one go. */
        size_t j = i + len;
        while (j < n && p[j] > 0x20 && p[j] < 0x7f)
            j++;
        EX_TRY(buf_append(out, p + i, j - i));
        i = j;
        started = 1, space = 0, newlines = 0;
    }
    return DP_OK;
}

int extract_plain(const char *p, size_t n, struct buf *out)
{
    struct buf tmp;
    buf_init(&tmp, out->max ? out->max * 2 + 16 : 0);
    int err = ex_decode(p, n, &tmp);
    if (!err)
        err = ex_normalize(tmp.data ? tmp.data : "", tmp.len, out);
    buf_cleanup(&tmp);
    return err;
}

/* ---- lines broken inside sentences (PDF) -------------------------------------------------------- */

enum join { JOIN_KEEP, JOIN_SPACE, JOIN_TIGHT, JOIN_DROP_HYPHEN };

static int is_lower_start(const unsigned char *b, size_t n)
{
    if (b[0] >= 'a' && b[0] <= 'z')
        return 1;
    /* Latin-1 lower-case letters ß … ÿ (not ÷) */
    return n >= 2 && b[0] == 0xC3 && b[1] >= 0x9F && b[1] <= 0xBF && b[1] != 0xB7;
}

static int is_ascii_letter(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* 1 when the line a[0..n) ends a sentence (or a clause that a line break may end: ":" ";"):
 * . ! ? … 。！？, also inside closing quotes or brackets. */
static int ends_sentence(const unsigned char *a, size_t n)
{
    static const char *const closers[] = {")", "]", "\"", "'", "\xE2\x80\x99", "\xE2\x80\x9D", "\xC2\xBB", NULL};
    for (int k = 0; k < 2 && n; k++) {
        unsigned char c = a[n - 1];
        if (c == '.' || c == '!' || c == '?' || c == ':' || c == ';')
            return 1;
        if (n >= 3 && a[n - 3] == 0xE2 && a[n - 2] == 0x80 && a[n - 1] == 0xA6) /* … */
            return 1;
        if (n >= 3 && ((a[n - 3] == 0xE3 && a[n - 2] == 0x80 && a[n - 1] == 0x82) ||
                       (a[n - 3] == 0xEF && a[n - 2] == 0xBC && (a[n - 1] == 0x81 || a[n - 1] == 0x9F))))
            return 1; /* 。！？ */
        size_t cut = 0;
        for (int i = 0; closers[i] && !cut; i++) {
            size_t l = strlen(closers[i]);
            if (n >= l && !memcmp(a + n - l, closers[i], l))
                cut = l;
        }
        if (!cut)
            return 0;
        n -= cut; /* look once more, inside the quote or bracket */
    }
    return 0;
}

/* 1 when the line b[0..n) starts a list item: a bullet or dash and a space, "12. ", "3) ", "a) ",
 * "(iv) ". */
static int starts_item(const unsigned char *b, size_t n)
{
    static const char *const bullets[] = {"\xE2\x80\xA2",
                                          "\xC2\xB7",
                                          "\xE2\x80\x93",
                                          "\xE2\x80\x94",
                                          "\xE2\x96\xAA",
                                          "\xE2\x96\xA0",
                                          "\xE2\x97\x8B",
                                          "\xE2\x97\xA6",
                                          "-",
                                          "*",
                                          "+",
                                          NULL};
    for (int i = 0; bullets[i]; i++) {
        size_t l = strlen(bullets[i]);
        if (n > l && !memcmp(b, bullets[i], l) && b[l] == ' ')
            return 1;
    }
    size_t i = b[0] == '(' ? 1 : 0, k = i;
    while (k < n && k - i < 4 && ((b[k] >= '0' && b[k] <= '9') || is_ascii_letter(b[k])))
        k++;
    if (k == i || k + 1 >= n)
        return 0;
    int digits = 1;
    for (size_t j = i; j < k; j++)
        digits &= b[j] >= '0' && b[j] <= '9';
    /* "12. " and "3) "; letters only as one ("a) ", "B. ") or roman numerals in brackets */
    if (!digits && k - i > 1 && !i)
        return 0;
    return (b[k] == ')' || (b[k] == '.' && !i)) && b[k + 1] == ' ';
}

/* How to end the line a[0..an) (acp characters; the widest line of its page has width) when the
 * line b[0..bn) follows in the same paragraph. */
static enum join join_kind(const unsigned char *a, size_t an, size_t acp, size_t width, const unsigned char *b,
                           size_t bn)
{
    if (!an || !bn || ends_sentence(a, an) || starts_item(b, bn))
        return JOIN_KEEP;
    /* "exam-" + "ple": a word hyphenated at the line end; "pre-" + "Raphaelite" keeps its hyphen */
    if (a[an - 1] == '-' && an >= 2 && is_ascii_letter(a[an - 2]) && is_ascii_letter(b[0]))
        return a[an - 2] >= 'a' && is_lower_start(b, bn) ? JOIN_DROP_HYPHEN : JOIN_TIGHT;
    if (is_lower_start(b, bn))
        return JOIN_SPACE;
    /* Before a capital or a digit ("… we sailed to" + "Bergen …"), only a line that runs (nearly)
     * to the right margin was wrapped: a short one is a heading, an address line, a verse. */
    if (width >= 40 && acp * 4 >= width * 3)
        return JOIN_SPACE;
    return JOIN_KEEP;
}

size_t extract_rejoin_lines(char *text, size_t len)
{
    unsigned char *p = (unsigned char *)text;
    size_t width = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            width = cur > width ? cur : width;
            cur = 0;
        } else if ((p[i] & 0xC0) != 0x80) {
            cur++;
        }
    }
    width = cur > width ? cur : width;
    /* In place: the output never runs ahead of the input (a line end becomes one space or goes).
     * The line before a break is read from the output (a verbatim copy), the one after it from
     * the input, which is not yet overwritten. */
    size_t w = 0, line = 0, cps = 0;
    for (size_t r = 0; r < len; r++) {
        unsigned char c = p[r];
        if (c != '\n') {
            p[w++] = c;
            cps += (c & 0xC0) != 0x80;
            continue;
        }
        enum join j = JOIN_KEEP;
        if (w > line && r + 1 < len && p[r + 1] != '\n')
            j = join_kind(p + line, w - line, cps, width, p + r + 1, len - r - 1);
        if (j == JOIN_DROP_HYPHEN)
            w--;
        else if (j == JOIN_SPACE)
            p[w++] = ' ';
        else if (j == JOIN_KEEP)
            p[w++] = '\n';
        line = w;
        cps = 0;
    }
    return w;
}
