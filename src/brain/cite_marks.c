/* Citation marks taken out of a streamed reply (see cite_marks.h). */
#include "brain/cite_marks.h"

#include <ctype.h>
#include <string.h>

#include "core/id.h"

void cite_marks_init(struct cite_marks *m, const char *const *ids, int n,
                     void (*out)(void *ctx, const char *text, size_t len), void *ctx)
{
    memset(m, 0, sizeof *m);
    m->ids = ids;
    m->n = n < CITE_OFFERED_MAX ? n : CITE_OFFERED_MAX;
    m->out = out;
    m->ctx = ctx;
    buf_init(&m->scratch, 0);
}

void cite_marks_cleanup(struct cite_marks *m)
{
    buf_cleanup(&m->scratch);
}

static void emit(struct cite_marks *m, const char *p, size_t n)
{
    if (n && buf_append(&m->scratch, p, n) != 0)
        return; /* out of memory: the piece is lost, never the process */
}

/* A character of the text proper: the spaces held before it go first; right after a mark, a word
 * gets the space the mark took away ("Paris [1] and" → "Paris and", "Rome [2]." → "Rome."). */
static void emit_char(struct cite_marks *m, char c)
{
    if (c == ' ') {
        m->held_spaces++;
        return;
    }
    if (m->held_spaces) {
        for (; m->held_spaces; m->held_spaces--)
            emit(m, " ", 1);
    } else if (m->after_mark && (isalnum((unsigned char)c) || (unsigned char)c >= 0x80 || c == '(')) {
        emit(m, " ", 1);
    }
    m->after_mark = 0;
    emit(m, &c, 1);
}

static void cite(struct cite_marks *m, int idx)
{
    for (int i = 0; i < m->ncited; i++)
        if (m->cited[i] == idx)
            return;
    if (m->ncited < CITE_OFFERED_MAX)
        m->cited[m->ncited++] = idx;
}

/* The memory an item of a mark names (-1: none offered); *shaped 0 when the item is not a number or
 * an id at all (then the brackets were text). */
static int item_index(const struct cite_marks *m, const char *p, size_t n, int *shaped)
{
    char item[ID_LEN + 1];
    *shaped = 0;
    if (!n || n >= sizeof item)
        return -1;
    memcpy(item, p, n);
    item[n] = 0;
    if (n <= 3 && strspn(item, "0123456789") == n) {
        *shaped = 1;
        int k = 0;
        for (size_t i = 0; i < n; i++)
            k = k * 10 + (item[i] - '0');
        return k >= 1 && k <= m->n ? k - 1 : -1;
    }
    if (!id_valid(item))
        return -1;
    *shaped = 1;
    for (int i = 0; i < m->n; i++)
        if (m->ids[i] && !strcmp(m->ids[i], item))
            return i;
    return -1;
}

/* The mark in m->pending ("[…]") is complete: cite what it names. 0 when it is not a mark. */
static int take_mark(struct cite_marks *m)
{
    int idx[CITE_MARK_MAX / 2], nidx = 0, bad = 0;
    const char *p = m->pending + 1, *end = m->pending + m->plen - 1;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *a = p, *b = e;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        int shaped, i = item_index(m, a, (size_t)(b - a), &shaped);
        if (!shaped)
            return 0;
        if (i < 0)
            bad++;
        else
            idx[nidx++] = i;
        if (!comma)
            break;
        p = comma + 1;
    }
    for (int k = 0; k < nidx; k++)
        cite(m, idx[k]);
    m->dropped += bad;
    m->held_spaces = 0;
    m->after_mark = 1;
    return 1;
}

static int mark_char(char c)
{
    return isxdigit((unsigned char)c) || c == '-' || c == ',' || c == ' ';
}

/* The open mark was text after all. */
static void flush_pending(struct cite_marks *m)
{
    size_t n = m->plen;
    m->plen = 0;
    for (size_t i = 0; i < n; i++)
        emit_char(m, m->pending[i]);
}

static void step(struct cite_marks *m, char c)
{
    if (m->plen) {
        if (c == ']' && m->plen < CITE_MARK_MAX) {
            m->pending[m->plen++] = c;
            if (take_mark(m))
                m->plen = 0;
            else
                flush_pending(m);
            return;
        }
        if (mark_char(c) && m->plen < CITE_MARK_MAX - 1) {
            m->pending[m->plen++] = c;
            return;
        }
        flush_pending(m);
    }
    if (c == '[') {
        m->pending[m->plen++] = c;
        return;
    }
    emit_char(m, c);
}

void cite_marks_feed(struct cite_marks *m, const char *text, size_t len)
{
    m->scratch.len = 0;
    for (size_t i = 0; i < len; i++)
        step(m, text[i]);
    if (m->scratch.len && m->out)
        m->out(m->ctx, m->scratch.data, m->scratch.len);
}

void cite_marks_end(struct cite_marks *m)
{
    m->scratch.len = 0;
    flush_pending(m);
    m->held_spaces = 0;
    if (m->scratch.len && m->out)
        m->out(m->ctx, m->scratch.data, m->scratch.len);
}
