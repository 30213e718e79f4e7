/* Passage splitting for the memory store: text → overlapping, heading-aware ~100–300-word passages.
 *
 * The algorithm, in one pass over the text with memory bounded by one passage:
 *
 * 1. Words. A word is a run of bytes between ASCII white space. A wide character (text_is_wide:
 *    U+3000–U+DFFF, or a full-width form U+FF00–U+FF7F) is a word by itself, since
 *    those scripts put no spaces between words; a run longer than WORD_MAX_BYTES is cut into
 *    pieces at a character boundary. So no cut ever falls inside a UTF-8 sequence, and none falls
 *    inside an ordinary word.
 * 2. Blocks. Lines are grouped into blocks (paragraphs) by blank lines. A line is a heading when
 *    it is a Markdown ATX heading ("#".."######" then a space; at most 25 words), or when it is a block of one line
 *    that looks like a title: at most 12 words and 120 bytes, a letter in it, not starting with a
 *    lower-case letter or a bullet, not ending in . , ; : ! or ?, and more text follows it.
 * 3. Sentences. Within a block, a sentence ends after a word ending in . ! ? (closing quotes and
 *    brackets allowed after) unless the word is an initial ("J.") or a common abbreviation
 *    ("Dr.", "e.g.", "U.S.") or the next word starts in lower case; 。！？ end one too. A block end
 *    ends a sentence. A sentence longer than SENTENCE_MAX_WORDS is cut into pieces of that many
 *    words. Sentences (and pieces) are the units passages are made of.
 * 4. Sections. A heading starts a section. Consecutive headings (up to three) form the section's
 *    context; a longer run of heading-like lines is a list (a table of contents …) and is read as
 *    text; a heading equal to the current one (a running page header) is read as text too.
 * 5. Packing. Units are added to the current passage in order. A passage is closed
 *      - before a unit that would take it past PASSAGE_MAX_WORDS,
 *      - at a paragraph end once it has FLUSH_AT_PARAGRAPH new words,
 *      - at a sentence end once it has FLUSH_AT_SENTENCE new words,
 *      - at the end of its section.
 *    Since a unit has at most 150 words, a passage closed by size has more than 150 (so >= MIN).
 *    The first passage of a section starts at its heading lines; later ones get the heading lines
 *    prepended as context (passage.text), outside [char_start, char_end).
 * 6. Overlap. A passage closed by size hands its last one or two units (at most
 *    PASSAGE_OVERLAP_WORDS words together) to the next passage of the section, which starts with
 *    them; when its last unit alone is longer, its last OVERLAP_FALLBACK_WORDS words.
 * 7. Small tails. The last passage of a section with fewer than SMALL_TAIL_WORDS new words is
 *    merged into the previous passage of the section when the sum stays within the maximum.
 * 8. Pages. A passage's page is the page holding char_start (binary search in page_starts).
 */
#include "ingest/passages.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/utf8.h"

#define WORD_MAX_BYTES 256
#define SENTENCE_MAX_WORDS 150
#define FLUSH_AT_PARAGRAPH 150
#define FLUSH_AT_SENTENCE 220
#define OVERLAP_FALLBACK_WORDS 30
#define SMALL_TAIL_WORDS 50
#define TITLE_MAX_WORDS 12
#define TITLE_MAX_BYTES 120
#define ATX_MAX_WORDS 25 /* a longer "# …" line is text, not a heading */
#define CONTEXT_MAX 3

struct range {
    size_t start, end;
    int words;
};

/* A passage while ranges are decided; texts are built at the end. */
struct draft {
    size_t start, end;
    int words;
    int nctx;
    struct range ctx[CONTEXT_MAX];
};

struct splitter {
    const char *t;
    size_t len;
    /* section context */
    struct range ctx[CONTEXT_MAX];
    int nctx;
    int chain_open; /* headings seen since the last text unit: they are the next section's start */
    int listing;    /* inside a run of heading-like lines read as text */
    int chain_words;
    /* the current passage */
    int active;
    size_t p_start, p_end;
    int p_words, p_new, first_in_section;
    struct range *units; /* units of the current passage, for the overlap */
    int nunits, capunits;
    /* results */
    struct draft *drafts;
    int ndrafts, capdrafts;
    int last_in_section; /* index of the section's previous draft, -1 for none */
};

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* A wide (CJK-like) character at t[i] (text_is_wide): one word by itself. */
static int is_wide(const unsigned char *t, size_t i, size_t len)
{
    uint32_t cp;
    return t[i] >= 0xe3 && utf8_decode(t + i, len - i, &cp) && text_is_wide(cp);
}

/* The next word at or after *pos; 0 at the end. */
static int next_word(const char *s, size_t len, size_t *pos, size_t *ws, size_t *we)
{
    const unsigned char *t = (const unsigned char *)s;
    size_t i = *pos;
    while (i < len && is_ws(t[i]))
        i++;
    if (i >= len) {
        *pos = len;
        return 0;
    }
    size_t start = i;
    if (is_wide(t, i, len)) {
        i += 3;
    } else {
        while (i < len && !is_ws(t[i]) && !is_wide(t, i, len) && i - start < WORD_MAX_BYTES) {
            i++;
            while (i < len && is_cont(t[i]))
                i++;
        }
    }
    *ws = start;
    *we = i;
    *pos = i;
    return 1;
}

static int count_words(const char *t, size_t a, size_t b)
{
    int n = 0;
    size_t ws, we, pos = a;
    while (next_word(t, b, &pos, &ws, &we))
        n++;
    return n;
}

static const char *const abbreviations[] = {
    "Mr",  "Mrs",    "Ms", "Dr",   "Prof", "Sr",  "Jr",  "St",   "Mt",  "vs",  "etc", "No",  "no",   "Fig", "fig",
    "Inc", "Ltd",    "Co", "Corp", "Jan",  "Feb", "Mar", "Apr",  "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov",
    "Dec", "approx", "ca", "cf",   "al",   "Gen", "Col", "Capt", "Lt",  "Rev", "Hon", "Ave", "Rd",   NULL,
};

/* Whether the word t[a..b) ends a sentence (before looking at the next word). */
static int ends_sentence(const char *s, size_t a, size_t b)
{
    const unsigned char *t = (const unsigned char *)s;
    if (b - a == 3 && ((t[a] == 0xe3 && t[a + 1] == 0x80 && t[a + 2] == 0x82) ||
                       (t[a] == 0xef && t[a + 1] == 0xbc && (t[a + 2] == 0x81 || t[a + 2] == 0x9f))))
        return 1; /* 。！？ */
    size_t e = b;
    for (;;) { /* closing quotes and brackets */
        if (e > a && (t[e - 1] == '"' || t[e - 1] == '\'' || t[e - 1] == ')' || t[e - 1] == ']'))
            e--;
        else if (e - a >= 3 && t[e - 3] == 0xe2 && t[e - 2] == 0x80 && (t[e - 1] == 0x99 || t[e - 1] == 0x9d))
            e -= 3; /* ’ ” */
        else if (e - a >= 2 && t[e - 2] == 0xc2 && t[e - 1] == 0xbb)
            e -= 2; /* » */
        else
            break;
    }
    if (e == a)
        return 0;
    unsigned char last = t[e - 1];
    if (last == '!' || last == '?')
        return 1;
    if (last != '.')
        return 0;
    size_t w = e - 1 - a; /* the word without its final period */
    if (w == 0)
        return 1;
    if (w == 1 && ((t[a] >= 'A' && t[a] <= 'Z') || (t[a] >= 'a' && t[a] <= 'z')))
        return 0; /* an initial */
    if (memchr(t + a, '.', w) && w <= 8) {
        int digits_only = 1;
        for (size_t k = a; k < a + w; k++)
            if (!((t[k] >= '0' && t[k] <= '9') || t[k] == '.'))
                digits_only = 0;
        if (!digits_only)
            return 0; /* e.g. i.e. U.S. */
    }
    size_t lead = a; /* "(Dr." */
    while (lead < a + w && (t[lead] == '(' || t[lead] == '"' || t[lead] == '\''))
        lead++;
    for (const char *const *ab = abbreviations; *ab; ab++)
        if (strlen(*ab) == a + w - lead && memcmp(*ab, t + lead, a + w - lead) == 0)
            return 0;
    return 1;
}

static int starts_lower(const char *t, size_t a)
{
    return t[a] >= 'a' && t[a] <= 'z';
}

/* ---- drafts --------------------------------------------------------------------------------- */

static int push_unit(struct splitter *s, struct range u)
{
    if (s->nunits == s->capunits) {
        int nc = s->capunits ? s->capunits * 2 : 64;
        struct range *nu = realloc(s->units, (size_t)nc * sizeof *nu);
        if (!nu)
            return DP_ERR_NOMEM;
        s->units = nu;
        s->capunits = nc;
    }
    s->units[s->nunits++] = u;
    return DP_OK;
}

static int push_draft(struct splitter *s, const struct draft *d)
{
    if (s->ndrafts == s->capdrafts) {
        if (s->capdrafts > INT32_MAX / 4)
            return DP_ERR_TOO_LARGE;
        int nc = s->capdrafts ? s->capdrafts * 2 : 64;
        struct draft *nd = realloc(s->drafts, (size_t)nc * sizeof *nd);
        if (!nd)
            return DP_ERR_NOMEM;
        s->drafts = nd;
        s->capdrafts = nc;
    }
    s->drafts[s->ndrafts++] = *d;
    return DP_OK;
}

/* Closes the current passage. With overlap, its last units start the next passage. */
static int close_passage(struct splitter *s, int overlap, int section_end)
{
    if (!s->active || s->p_new == 0) {
        s->active = 0;
        s->nunits = 0;
        return DP_OK;
    }
    if (section_end && s->p_new < SMALL_TAIL_WORDS && s->last_in_section >= 0) {
        struct draft *prev = &s->drafts[s->last_in_section];
        if (prev->words + s->p_new <= PASSAGE_MAX_WORDS) {
            prev->end = s->p_end;
            prev->words += s->p_new;
            s->active = 0;
            s->nunits = 0;
            return DP_OK;
        }
    }
    struct draft d = {.start = s->p_start, .end = s->p_end, .words = s->p_words};
    if (!s->first_in_section) {
        d.nctx = s->nctx;
        memcpy(d.ctx, s->ctx, sizeof d.ctx);
    }
    int rc = push_draft(s, &d);
    if (rc)
        return rc;
    s->last_in_section = s->ndrafts - 1;
    s->first_in_section = 0;
    s->active = 0;
    if (!overlap) {
        s->nunits = 0;
        return DP_OK;
    }
    /* The last one or two units, within the overlap budget, but never the whole passage. */
    int take = 0, words = 0;
    while (take < 2 && take + 1 < s->nunits && words + s->units[s->nunits - 1 - take].words <= PASSAGE_OVERLAP_WORDS)
        words += s->units[s->nunits - 1 - take++].words;
    struct range carry[2];
    int ncarry = 0;
    if (take) {
        for (int k = s->nunits - take; k < s->nunits; k++)
            carry[ncarry++] = s->units[k];
    } else {
        /* The last unit's last words. */
        struct range last = s->units[s->nunits - 1];
        size_t ring[OVERLAP_FALLBACK_WORDS];
        int seen = 0;
        size_t pos = last.start, ws, we;
        while (next_word(s->t, last.end, &pos, &ws, &we))
            ring[seen++ % OVERLAP_FALLBACK_WORDS] = ws;
        if (seen > OVERLAP_FALLBACK_WORDS) {
            size_t from = ring[seen % OVERLAP_FALLBACK_WORDS];
            carry[ncarry++] = (struct range){from, last.end, OVERLAP_FALLBACK_WORDS};
        }
    }
    s->nunits = 0;
    for (int k = 0; k < ncarry; k++) {
        if ((rc = push_unit(s, carry[k])))
            return rc;
        if (k == 0) {
            s->active = 1;
            s->p_start = carry[k].start;
            s->p_words = 0;
            s->p_new = 0;
        }
        s->p_end = carry[k].end;
        s->p_words += carry[k].words;
    }
    return DP_OK;
}

/* A unit of text (a sentence or a piece of one). */
static int add_unit(struct splitter *s, struct range u, int from_text)
{
    if (from_text)
        s->listing = 0;
    if (s->chain_open) {
        /* The section's first passage starts at its heading lines. */
        s->chain_open = 0;
        s->active = 1;
        s->p_start = s->ctx[0].start;
        s->p_end = s->ctx[s->nctx - 1].end;
        s->p_words = s->chain_words;
        s->p_new = 0;
        s->nunits = 0;
    }
    int rc;
    if (s->active && s->p_new > 0 && s->p_words + u.words > PASSAGE_MAX_WORDS && (rc = close_passage(s, 1, 0)))
        return rc;
    if (s->active && s->p_words + u.words > PASSAGE_MAX_WORDS) {
        /* Only overlap in front (never more than the budget): drop it rather than overflow. */
        s->active = 0;
        s->nunits = 0;
    }
    if (!s->active) {
        s->active = 1;
        s->p_start = u.start;
        s->p_words = 0;
        s->p_new = 0;
        s->nunits = 0;
    }
    if ((rc = push_unit(s, u)))
        return rc;
    s->p_end = u.end;
    s->p_words += u.words;
    s->p_new += u.words;
    if (s->p_new >= FLUSH_AT_SENTENCE)
        return close_passage(s, 1, 0);
    return DP_OK;
}

static int paragraph_end(struct splitter *s)
{
    if (s->active && s->p_new >= FLUSH_AT_PARAGRAPH)
        return close_passage(s, 1, 0);
    return DP_OK;
}

static int same_text(const struct splitter *s, struct range a, struct range b)
{
    return a.end - a.start == b.end - b.start && memcmp(s->t + a.start, s->t + b.start, a.end - a.start) == 0;
}

static int add_heading(struct splitter *s, struct range h)
{
    int rc;
    if (s->listing) {
        if ((rc = add_unit(s, h, 0)))
            return rc;
        return paragraph_end(s);
    }
    if (!s->chain_open && s->nctx > 0 && same_text(s, h, s->ctx[s->nctx - 1])) {
        if ((rc = add_unit(s, h, 1)))
            return rc;
        return paragraph_end(s);
    }
    if (s->chain_open && s->nctx == CONTEXT_MAX) {
        /* A fourth heading-like line in a row: these lines are a list, read as text. */
        struct range lines[CONTEXT_MAX];
        memcpy(lines, s->ctx, sizeof lines);
        s->chain_open = 0;
        s->nctx = 0;
        s->listing = 1;
        for (int k = 0; k < CONTEXT_MAX; k++)
            if ((rc = add_unit(s, lines[k], 0)) || (rc = paragraph_end(s)))
                return rc;
        if ((rc = add_unit(s, h, 0)))
            return rc;
        return paragraph_end(s);
    }
    if (!s->chain_open) {
        if ((rc = close_passage(s, 0, 1)))
            return rc;
        s->chain_open = 1;
        s->nctx = 0;
        s->chain_words = 0;
        s->first_in_section = 1;
        s->last_in_section = -1;
    }
    s->ctx[s->nctx++] = h;
    s->chain_words += h.words;
    return DP_OK;
}

/* ---- scanning ------------------------------------------------------------------------------- */

static int line_blank(const char *t, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (!is_ws((unsigned char)t[i]))
            return 0;
    return 1;
}

static int is_atx(const char *t, size_t a, size_t b)
{
    size_t h = 0;
    while (a + h < b && h < 7 && t[a + h] == '#')
        h++;
    return h >= 1 && h <= 6 && (a + h == b || t[a + h] == ' ' || t[a + h] == '\t');
}

/* A one-line block that reads as a title (step 2 above); [a, b) is trimmed. */
static int is_title(const char *s, size_t a, size_t b)
{
    const unsigned char *t = (const unsigned char *)s;
    if (b - a > TITLE_MAX_BYTES)
        return 0;
    int letter = 0;
    for (size_t i = a, l; i < b && !letter; i += l)
        letter = text_is_letter(utf8_next(t + i, b - i, &l));
    if (!letter || (t[a] >= 'a' && t[a] <= 'z') || t[a] == '-' || t[a] == '*' || t[a] == '+' || t[a] == '>' ||
        (b - a >= 3 && t[a] == 0xe2 && t[a + 1] == 0x80 && t[a + 2] == 0xa2))
        return 0;
    if (strchr(".,;:!?", t[b - 1]))
        return 0;
    return count_words(s, a, b) <= TITLE_MAX_WORDS;
}

struct sentence {
    int has, pending_end;
    struct range r;
};

static int sentence_flush(struct splitter *s, struct sentence *cur)
{
    int rc = DP_OK;
    if (cur->has)
        rc = add_unit(s, cur->r, 1);
    cur->has = 0;
    cur->pending_end = 0;
    return rc;
}

static int scan(struct splitter *s)
{
    const char *t = s->t;
    size_t len = s->len;
    size_t last_content = len;
    while (last_content > 0 && is_ws((unsigned char)t[last_content - 1]))
        last_content--;
    struct sentence cur = {0};
    int in_block = 0, rc;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(t + pos, '\n', len - pos);
        size_t le = nl ? (size_t)(nl - t) : len, next = nl ? le + 1 : len;
        size_t a = pos, b = le;
        while (a < b && is_ws((unsigned char)t[a]))
            a++;
        while (b > a && is_ws((unsigned char)t[b - 1]))
            b--;
        if (a == b) {
            if (in_block && ((rc = sentence_flush(s, &cur)) || (rc = paragraph_end(s))))
                return rc;
            in_block = 0;
            pos = next;
            continue;
        }
        int heading = is_atx(t, a, b) && count_words(t, a, b) <= ATX_MAX_WORDS;
        if (!heading && !in_block && b < last_content) {
            const char *nl2 = memchr(t + next, '\n', len - next);
            size_t le2 = nl2 ? (size_t)(nl2 - t) : len;
            heading = line_blank(t, next, le2) && is_title(t, a, b);
        }
        if (heading) {
            if (in_block && ((rc = sentence_flush(s, &cur)) || (rc = paragraph_end(s))))
                return rc;
            in_block = 0;
            if ((rc = add_heading(s, (struct range){a, b, count_words(t, a, b)})))
                return rc;
            pos = next;
            continue;
        }
        in_block = 1;
        size_t wp = a, ws, we;
        while (next_word(t, b, &wp, &ws, &we)) {
            if (cur.has && cur.pending_end && !starts_lower(t, ws) && (rc = sentence_flush(s, &cur)))
                return rc;
            cur.pending_end = 0;
            if (!cur.has) {
                cur.has = 1;
                cur.r = (struct range){ws, we, 0};
            }
            cur.r.end = we;
            cur.r.words++;
            if (ends_sentence(t, ws, we))
                cur.pending_end = 1;
            if (cur.r.words >= SENTENCE_MAX_WORDS && (rc = sentence_flush(s, &cur)))
                return rc;
        }
        pos = next;
    }
    if (in_block && ((rc = sentence_flush(s, &cur)) || (rc = paragraph_end(s))))
        return rc;
    if (s->chain_open) {
        /* Heading lines at the very end: a passage of their own. */
        struct draft d = {.start = s->ctx[0].start, .end = s->ctx[s->nctx - 1].end, .words = s->chain_words};
        s->chain_open = 0;
        return push_draft(s, &d);
    }
    return close_passage(s, 0, 1);
}

/* ---- results -------------------------------------------------------------------------------- */

/* A heading line as context: Markdown's #s and the spaces around the words dropped. */
static int append_heading(struct buf *b, const char *t, struct range h)
{
    size_t a = h.start, e = h.end;
    if (is_atx(t, a, e)) {
        while (a < e && t[a] == '#')
            a++;
        while (e > a && t[e - 1] == '#')
            e--;
    }
    while (a < e && is_ws((unsigned char)t[a]))
        a++;
    while (e > a && is_ws((unsigned char)t[e - 1]))
        e--;
    return buf_append(b, t + a, e - a);
}

static int page_of(const size_t *starts, int npages, size_t off)
{
    if (npages <= 0)
        return 0;
    int lo = 0, hi = npages - 1; /* the last page starting at or before off */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (starts[mid] <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo + 1;
}

void passages_free(struct passage *p, int n)
{
    if (!p)
        return;
    for (int i = 0; i < n; i++)
        free(p[i].text);
    free(p);
}

int passages_split(const char *text, size_t len, const size_t *page_starts, int npages, struct passage **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (npages < 0 || (npages > 0 && !page_starts) || (len && !text))
        return DP_ERR_INVALID;
    for (int i = 1; i < npages; i++)
        if (page_starts[i] < page_starts[i - 1])
            return DP_ERR_INVALID;
    if (len > UINT32_MAX)
        return DP_ERR_TOO_LARGE;

    struct splitter s = {.t = text, .len = len, .last_in_section = -1, .first_in_section = 1};
    struct passage *res = NULL;
    int rc = scan(&s);
    if (rc)
        goto out;
    if (s.ndrafts == 0)
        goto out;
    res = calloc((size_t)s.ndrafts, sizeof *res);
    if (!res) {
        rc = DP_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < s.ndrafts; i++) {
        const struct draft *d = &s.drafts[i];
        struct buf b;
        buf_init(&b, 0);
        for (int k = 0; k < d->nctx && !rc; k++) {
            rc = append_heading(&b, text, d->ctx[k]);
            if (!rc)
                rc = buf_append(&b, k + 1 < d->nctx ? "\n" : "\n\n", k + 1 < d->nctx ? 1 : 2);
        }
        size_t ctx_len = b.len;
        if (!rc)
            rc = buf_append(&b, text + d->start, d->end - d->start);
        if (rc) {
            buf_cleanup(&b);
            passages_free(res, i);
            res = NULL;
            goto out;
        }
        res[i].text = buf_steal(&b, &res[i].len);
        res[i].context_len = ctx_len;
        res[i].char_start = d->start;
        res[i].char_end = d->end;
        res[i].page = page_of(page_starts, npages, d->start);
        res[i].words = d->words;
    }
    *out = res;
    *n = s.ndrafts;
out:
    free(s.units);
    free(s.drafts);
    return rc;
}
