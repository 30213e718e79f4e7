/* Chat and dialogue transcripts → utterances (speaker, text, source offsets, order).
 *
 * Two passes over the lines, with memory bounded by the utterances themselves:
 *   1. Every line is classified (blank, plain "Name: …", timestamped "… Name: …", timestamped
 *      system line, other text) and counted. The counts choose the mode (timestamped lines only
 *      start utterances when they are at least as many as plain ones) and reject most documents
 *      at once (too few lines start an utterance).
 *   2. The lines are read again and utterances built: a starting line opens one, other lines
 *      continue it, a system line closes it. Then the speaker rules of dialogue_parse() decide.
 * Classification is a pure function of the line, so both passes agree. */
#include "ingest/dialogue.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/utf8.h"
#include "ingest/chat_time.h"

#define STAMP_MAX 48
#define SPEAKER_PENDING (-2) /* bytes of a timestamp prefix ("12/03/2021, 14:22:05 PM" and the like) */

enum line_kind {
    LINE_BLANK,
    LINE_TEXT,    /* no speaker prefix: continues the current utterance */
    LINE_PLAIN,   /* "Name: message" */
    LINE_STAMPED, /* "timestamp Name: message" */
    LINE_SYSTEM   /* a timestamp without a name: a chat app's notice */
};

struct line {
    size_t start, end;           /* the line without line end, outer spaces and direction marks */
    size_t name_start, name_end; /* LINE_PLAIN, LINE_STAMPED: the name as written (trimmed) */
    size_t msg;                  /* LINE_PLAIN, LINE_STAMPED: where the message starts (≤ end) */
    size_t stamp_end;            /* LINE_STAMPED: the timestamp is [start, stamp_end) */
    enum line_kind kind;
};

/* ---- characters ----------------------------------------------------------------------------- */

/* The code point at t[i] (t[..end) is valid UTF-8; a broken byte reads as U+FFFD) and its
 * length in *n. */
static uint32_t cp_at(const unsigned char *t, size_t i, size_t end, int *n)
{
    size_t len;
    uint32_t cp = utf8_next(t + i, end - i, &len);
    *n = (int)len;
    return cp;
}

/* A code point a plain speaker name may hold after its first letter. */
static int is_name_char(uint32_t c)
{
    if (text_is_letter(c) || (c >= '0' && c <= '9') || (c >= 0x300 && c <= 0x36F) || c == 0x2019)
        return 1;
    return c == ' ' || c == '.' || c == '\'' || c == '-' || c == '_' || c == '(' || c == ')' || c == '&';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Length of a mark that carries no text at t[i] (U+200E, U+200F, U+FEFF), else 0. WhatsApp for
 * iOS puts U+200E before system lines and attachments. */
static size_t mark_len(const unsigned char *t, size_t i, size_t end)
{
    if (i + 3 > end)
        return 0;
    if (t[i] == 0xE2 && t[i + 1] == 0x80 && (t[i + 2] == 0x8E || t[i + 2] == 0x8F))
        return 3;
    if (t[i] == 0xEF && t[i + 1] == 0xBB && t[i + 2] == 0xBF)
        return 3;
    return 0;
}

/* Skips spaces and marks from i; returns the first other byte's offset (≤ end). */
static size_t skip_blank(const unsigned char *t, size_t i, size_t end)
{
    for (;;) {
        size_t m;
        if (i < end && is_space(t[i]))
            i++;
        else if ((m = mark_len(t, i, end)))
            i += m;
        else
            return i;
    }
}

/* ---- line classification -------------------------------------------------------------------- */

/* Length of a timestamp character at t[i] (digits, / . , : - space, the letters of AM/PM, U+00A0
 * and U+202F as WhatsApp writes "2:22\u202fPM"), else 0. */
static size_t stamp_char(const unsigned char *t, size_t i, size_t end)
{
    unsigned c = t[i];
    if ((c >= '0' && c <= '9') || strchr("/.,:- aApPmM", (int)c) != NULL)
        return c ? 1 : 0;
    if (c == 0xC2 && i + 1 < end && t[i + 1] == 0xA0)
        return 2;
    if (c == 0xE2 && i + 2 < end && t[i + 1] == 0x80 && t[i + 2] == 0xAF)
        return 3;
    return 0;
}

/* 1 when t[a..b) is all timestamp characters with a digit and a colon in it ("14:22"). */
static int stamp_ok(const unsigned char *t, size_t a, size_t b)
{
    int digit = 0, colon = 0;
    for (size_t i = a; i < b;) {
        size_t k = stamp_char(t, i, b);
        if (!k)
            return 0;
        digit |= t[i] >= '0' && t[i] <= '9';
        colon |= t[i] == ':';
        i += k;
    }
    return digit && colon;
}

/* Where the text after a timestamp prefix starts ("[stamp] " or "stamp - "), or 0 when the line
 * has none. */
static size_t after_stamp(const unsigned char *t, size_t s, size_t e)
{
    if (t[s] == '[') {
        for (size_t i = s + 1; i < e && i - s <= STAMP_MAX; i++)
            if (t[i] == ']') {
                if (!stamp_ok(t, s + 1, i) || (i + 1 < e && !is_space(t[i + 1])))
                    return 0;
                return i + 1;
            }
        return 0;
    }
    if (t[s] < '0' || t[s] > '9')
        return 0;
    for (size_t i = s; i < e && i - s <= STAMP_MAX;) {
        if (i + 2 < e && t[i] == ' ' && t[i + 1] == '-' && t[i + 2] == ' ')
            return stamp_ok(t, s, i) ? i + 3 : 0;
        size_t k = stamp_char(t, i, e);
        if (!k)
            return 0;
        i += k;
    }
    return 0;
}

/* Copies t[a..b) to out with runs of spaces and tabs made one space; returns its length, or -1
 * when that is over DIALOGUE_SPEAKER_MAX. *words gets the word count. */
static int normalise_name(const unsigned char *t, size_t a, size_t b, char out[DIALOGUE_SPEAKER_MAX + 1], int *words)
{
    int n = 0;
    *words = 1;
    for (size_t i = a; i < b; i++) {
        unsigned char c = t[i];
        if (is_space(c)) {
            if (n && out[n - 1] == ' ')
                continue;
            c = ' ';
            ++*words;
        }
        if (n == DIALOGUE_SPEAKER_MAX)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = 0;
    return n;
}

/* 1 when the one-word name is a URL scheme ("http: …" is not someone speaking). */
static int is_scheme(const char *name)
{
    static const char *const schemes[] = {"http", "https", "ftp", "ftps", "sftp", "mailto", "file",
                                          "tel",  "data",  "ws",  "wss",  "www",  NULL};
    for (int i = 0; schemes[i]; i++) {
        size_t k = strlen(schemes[i]);
        size_t j = 0;
        while (j < k && name[j] && (name[j] | 0x20) == schemes[i][j])
            j++;
        if (j == k && !name[k])
            return 1;
    }
    return 0;
}

/* 1 when the normalised name may be a speaker: stamped lines take any name of a few words,
 * plain ones only a name-like one (see dialogue_parse()). */
static int name_ok(const char *name, int len, int words, int stamped)
{
    const unsigned char *u = (const unsigned char *)name;
    if (len <= 0 || words > (stamped ? DIALOGUE_STAMPED_SPEAKER_WORDS : DIALOGUE_SPEAKER_WORDS))
        return 0;
    if (stamped) {
        for (int i = 0; i < len; i++)
            if (u[i] < 0x20 || u[i] == 0x7F)
                return 0;
        return 1;
    }
    int n;
    if (!text_is_letter(cp_at(u, 0, (size_t)len, &n)))
        return 0;
    for (int i = 0; i < len; i += n)
        if (!is_name_char(cp_at(u, (size_t)i, (size_t)len, &n)))
            return 0;
    return words > 1 || !is_scheme(name);
}

/* Finds "Name:" at t[p..e): the first colon within reach, followed by a space or the line end
 * (or the full-width colon U+FF1A). Fills the name and message fields of *l; 1 when found. */
static int take_name(const unsigned char *t, size_t p, size_t e, int stamped, struct line *l)
{
    for (size_t i = p; i < e && i - p <= DIALOGUE_SPEAKER_MAX + 4; i++) {
        size_t sep = 0;
        if (t[i] == ':')
            sep = (i + 1 == e || is_space(t[i + 1])) ? 1 : 0;
        else if (t[i] == 0xEF && i + 2 < e && t[i + 1] == 0xBC && t[i + 2] == 0x9A)
            sep = 3;
        else
            continue;
        if (!sep)
            return 0; /* "14:22", "http://…": a colon that does not end a name */
        size_t ne = i;
        while (ne > p && is_space(t[ne - 1]))
            ne--;
        char name[DIALOGUE_SPEAKER_MAX + 1];
        int words, len = normalise_name(t, p, ne, name, &words);
        if (!name_ok(name, len, words, stamped))
            return 0;
        l->name_start = p;
        l->name_end = ne;
        l->msg = skip_blank(t, i + sep, e);
        return 1;
    }
    return 0;
}

/* Classifies the line t[s..e) (without its '\n'). */
static void classify(const unsigned char *t, size_t s, size_t e, struct line *l)
{
    s = skip_blank(t, s, e);
    while (e > s && is_space(t[e - 1]))
        e--;
    l->start = s;
    l->end = e;
    if (s == e) {
        l->kind = LINE_BLANK;
        return;
    }
    size_t p = after_stamp(t, s, e);
    if (p) {
        p = skip_blank(t, p, e);
        l->kind = take_name(t, p, e, 1, l) ? LINE_STAMPED : LINE_SYSTEM;
        l->stamp_end = p;
        return;
    }
    l->kind = take_name(t, s, e, 0, l) ? LINE_PLAIN : LINE_TEXT;
}

/* Reads the line at *pos into *l and moves *pos past it; 0 at the end of the text. */
static int next_line(const unsigned char *t, size_t len, size_t *pos, struct line *l)
{
    if (*pos >= len)
        return 0;
    const unsigned char *nl = memchr(t + *pos, '\n', len - *pos);
    size_t e = nl ? (size_t)(nl - t) : len;
    classify(t, *pos, e, l);
    *pos = nl ? e + 1 : len;
    return 1;
}

/* ---- chat app notices ----------------------------------------------------------------------- */

/* 1 when t[a..e) starts with w (ASCII letters in any case; other bytes exactly). */
static int ci_prefix(const unsigned char *t, size_t a, size_t e, const char *w)
{
    size_t n = strlen(w);
    if (e - a < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = t[a + i], d = (unsigned char)w[i];
        if (c != d && !((c | 0x20) == d && d >= 'a' && d <= 'z'))
            return 0;
    }
    return 1;
}

static int ci_equal(const unsigned char *t, size_t a, size_t e, const char *w)
{
    return e - a == strlen(w) && ci_prefix(t, a, e, w);
}

static int ci_suffix(const unsigned char *t, size_t a, size_t e, const char *w)
{
    size_t n = strlen(w);
    return e - a >= n && ci_prefix(t, e - n, e, w);
}

/* Where t[a..e) ends without the "<This message was edited>" that WhatsApp appends to edited
 * messages (and the spaces before it). */
static size_t strip_edited(const unsigned char *t, size_t a, size_t e)
{
    static const char mark[] = "<this message was edited>";
    if (!ci_suffix(t, a, e, mark))
        return e;
    e -= sizeof mark - 1;
    while (e > a && (is_space(t[e - 1]) || mark_len(t, e >= a + 3 ? e - 3 : a, e)))
        e -= is_space(t[e - 1]) ? 1 : 3;
    return e;
}

/* Messages a chat app writes in someone's name that are not something they said: attachments
 * left out of the export, deletions, calls, the encryption notice (which iOS puts under the chat's
 * name). Compared whole (a final full stop ignored), ASCII case-insensitively. */
static const char *const notices[] = {"<media omitted>",
                                      "<médias omis>",
                                      "<medien ausgeschlossen>",
                                      "<multimedia omitido>",
                                      "<mídia oculta>",
                                      "<media omessi>",
                                      "<media weggelaten>",
                                      "<attached omitted>",
                                      "this message was deleted",
                                      "you deleted this message",
                                      "this message was deleted by admin",
                                      "waiting for this message",
                                      "waiting for this message. this may take a while",
                                      "waiting for this message. check your phone",
                                      "you blocked this contact",
                                      "you unblocked this contact",
                                      "live location shared",
                                      "view once message",
                                      "null",
                                      NULL};

/* iOS: "<kind> omitted" stands for an attachment; a document's line names it first
 * ("Report.pdf • 3 pages \u200edocument omitted"). */
static const char *const omitted[] = {"image",        "video", "audio",         "sticker",    "gif", "document",
                                      "contact card", "photo", "voice message", "video note", NULL};

int dialogue_is_notice(const char *msg, size_t len)
{
    const unsigned char *t = (const unsigned char *)msg;
    size_t a = skip_blank(t, 0, len), e = len;
    while (e > a && (is_space(t[e - 1]) || (e >= a + 3 && mark_len(t, e - 3, e))))
        e -= is_space(t[e - 1]) ? 1 : 3;
    if (a == e)
        return 0;
    size_t e1 = t[e - 1] == '.' ? e - 1 : e; /* "This message was deleted." */
    for (int i = 0; notices[i]; i++)
        if (ci_equal(t, a, e, notices[i]) || ci_equal(t, a, e1, notices[i]))
            return 1;
    /* "<attached: 00000012-PHOTO-2021-03-12-14-22-05.jpg>" (iOS) */
    if (ci_prefix(t, a, e, "<attached: ") && t[e - 1] == '>')
        return 1;
    /* "IMG-20210312-WA0001.jpg (file attached)" (Android; a caption follows on the next line) */
    if (ci_suffix(t, a, e, " (file attached)") && !memchr(t + a, '\n', e - a))
        return 1;
    for (int i = 0; omitted[i]; i++) {
        char w[40];
        snprintf(w, sizeof w, "%s omitted", omitted[i]);
        size_t n = strlen(w);
        if (ci_equal(t, a, e, w) || (ci_suffix(t, a, e, w) && e - n >= a + 3 && mark_len(t, e - n - 3, e - n)))
            return 1;
    }
    /* "Messages and calls are end-to-end encrypted. No one outside of this chat …", "Messages to
     * this group are now secured with end-to-end encryption", "Your security code with … changed" */
    if (ci_prefix(t, a, e, "messages ") && e - a < 400) {
        for (size_t i = a; i + 18 <= e; i++)
            if (ci_prefix(t, i, e, "end-to-end encrypt"))
                return 1;
    }
    if (ci_prefix(t, a, e, "your security code with ") && ci_suffix(t, a, e1, " changed"))
        return 1;
    /* Calls: "Missed voice call", "Missed group video call", "Voice call, 12 min", "Video call • 3 min" */
    size_t p = a;
    if (ci_prefix(t, p, e, "missed "))
        p += 7;
    else if (ci_prefix(t, p, e, "silenced "))
        p += 9;
    if (ci_prefix(t, p, e, "group "))
        p += 6;
    if (ci_prefix(t, p, e, "voice call") || ci_prefix(t, p, e, "video call")) {
        p += 10;
        return p == e || t[p] == ',' || t[p] == '.' ||
               (p + 1 < e && t[p] == ' ' && (t[p + 1] == '(' || t[p + 1] == 0xE2));
    }
    return 0;
}

/* ---- speakers ------------------------------------------------------------------------------- */

/* The distinct speakers: names in d->speakers, found by case-folded name in an open-addressing
 * table of indexes (+1; 0 is empty), with how many utterances each has. */
struct speakers {
    struct dialogue *d;
    int cap;       /* of d->speakers and count */
    int *count;    /* utterances by each speaker */
    int *slot;     /* nslots entries */
    size_t nslots; /* a power of two, more than twice d->nspeakers */
};

/* Speakers are told apart case-insensitively (text_lower: "ANNA" and "Anna", "ZOË" and "Zoë",
 * "ΜΑΡΙΑ" and "Μαρια" are one speaker; "Zoe" and "Zoë" are two). FNV-1a over the lower-cased
 * name. */
static uint32_t name_hash(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    uint32_t h = HASH_FNV32_INIT;
    int n;
    for (size_t i = 0; i < len; i += (size_t)n) {
        char enc[4];
        size_t k = utf8_encode(text_lower(cp_at(u, i, len, &n)), enc);
        for (size_t b = 0; b < k; b++)
            h = hash_fnv1a_add(h, (unsigned char)enc[b]);
    }
    return h;
}

static int name_eq(const char *a, const char *b)
{
    return text_lower_eq(a, strlen(a), b, strlen(b));
}

static int *slot_of(struct speakers *sp, const char *name)
{
    size_t mask = sp->nslots - 1, i = name_hash(name) & mask;
    while (sp->slot[i] && !name_eq(sp->d->speakers[sp->slot[i] - 1], name))
        i = (i + 1) & mask;
    return &sp->slot[i];
}

static int grow_slots(struct speakers *sp)
{
    size_t old_n = sp->nslots;
    int *old = sp->slot;
    sp->nslots = old_n ? old_n * 2 : 64;
    sp->slot = calloc(sp->nslots, sizeof *sp->slot);
    if (!sp->slot) {
        sp->slot = old;
        sp->nslots = old_n;
        return DP_ERR_NOMEM;
    }
    for (size_t i = 0; i < old_n; i++)
        if (old[i])
            *slot_of(sp, sp->d->speakers[old[i] - 1]) = old[i];
    free(old);
    return DP_OK;
}

/* The index of the speaker named t[a..b) (spaces normalised), added when new. */
static int speaker_index(struct speakers *sp, const unsigned char *t, size_t a, size_t b, int *idx)
{
    char name[DIALOGUE_SPEAKER_MAX + 1];
    int words;
    if (normalise_name(t, a, b, name, &words) < 0)
        return DP_ERR_INTERNAL; /* classify() checked the length */
    struct dialogue *d = sp->d;
    if ((size_t)d->nspeakers * 2 + 2 > sp->nslots) {
        int err = grow_slots(sp);
        if (err)
            return err;
    }
    int *s = slot_of(sp, name);
    if (*s) {
        *idx = *s - 1;
        return DP_OK;
    }
    if (d->nspeakers == sp->cap) {
        int cap = sp->cap ? sp->cap * 2 : 8;
        char **names = realloc(d->speakers, (size_t)cap * sizeof *names);
        if (!names)
            return DP_ERR_NOMEM;
        d->speakers = names;
        int *count = realloc(sp->count, (size_t)cap * sizeof *count);
        if (!count)
            return DP_ERR_NOMEM;
        sp->count = count;
        sp->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return DP_ERR_NOMEM;
    d->speakers[d->nspeakers] = copy;
    sp->count[d->nspeakers] = 0;
    *idx = d->nspeakers++;
    *s = *idx + 1;
    return DP_OK;
}

/* ---- utterances ----------------------------------------------------------------------------- */

struct builder {
    const unsigned char *t;
    struct dialogue *d;
    struct speakers sp;
    int cap;           /* of d->u */
    int speaker;       /* of the open utterance; -1: none open (before the first, after a system line);
                          SPEAKER_PENDING: opened by a notice, the speaker (pend_*) counted only if
                          text follows (a caption under an attachment) */
    size_t pend_start; /* SPEAKER_PENDING: the name in the source */
    size_t pend_end;
    struct buf cur;   /* its text so far */
    size_t cur_start; /* its source range so far */
    size_t cur_end;
    size_t stamp_start, stamp_end; /* its timestamp in the source (equal: none) */
};

/* Ends the text gathered in b->cur as one utterance of b->speaker (nothing when it is empty). */
static int flush(struct builder *b)
{
    if (!b->cur.len)
        return DP_OK;
    struct dialogue *d = b->d;
    if (d->n == DIALOGUE_MAX_UTTERANCES)
        return DP_ERR_TOO_LARGE;
    if (d->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        if (cap > DIALOGUE_MAX_UTTERANCES)
            cap = DIALOGUE_MAX_UTTERANCES;
        struct utterance *u = realloc(d->u, (size_t)cap * sizeof *u);
        if (!u)
            return DP_ERR_NOMEM;
        d->u = u;
        b->cap = cap;
    }
    struct utterance *u = &d->u[d->n];
    u->speaker = d->speakers[b->speaker];
    u->text = buf_steal(&b->cur, &u->len);
    u->char_start = b->cur_start;
    u->char_end = b->cur_end;
    u->seq = d->n++;
    u->stamp_start = b->stamp_start;
    u->stamp_end = b->stamp_end;
    u->occurred_ms = 0;
    b->sp.count[b->speaker]++;
    buf_init(&b->cur, DIALOGUE_TEXT_MAX);
    return DP_OK;
}

/* Where to end a piece of an over-long line t[a..): at the last space in its second half, else
 * at the last character boundary within DIALOGUE_TEXT_MAX bytes. */
static size_t cut_at(const unsigned char *t, size_t a)
{
    size_t end = a + utf8_cut((const char *)t + a, DIALOGUE_TEXT_MAX);
    for (size_t i = end; i > a + DIALOGUE_TEXT_MAX / 2; i--)
        if (t[i] == ' ' || t[i] == '\t')
            return i;
    return end;
}

/* Appends the source text t[a..e) (a line or the rest of one, trimmed) to the open utterance,
 * splitting it into several when it would exceed DIALOGUE_TEXT_MAX. */
static int add_text(struct builder *b, size_t a, size_t e)
{
    int err;
    if (a >= e)
        return DP_OK;
    if (b->cur.len && b->cur.len + 1 + (e - a) > DIALOGUE_TEXT_MAX && (err = flush(b)))
        return err;
    while (e - a > DIALOGUE_TEXT_MAX) { /* one line over the cap: pieces of it */
        size_t cut = cut_at(b->t, a), pe = cut;
        while (pe > a && is_space(b->t[pe - 1]))
            pe--;
        b->cur_start = a;
        b->cur_end = pe;
        if ((err = buf_append(&b->cur, b->t + a, pe - a)) || (err = flush(b)))
            return err;
        a = cut;
        while (a < e && is_space(b->t[a]))
            a++;
    }
    if (!b->cur.len)
        b->cur_start = a;
    else if ((err = buf_append(&b->cur, "\n", 1)))
        return err;
    b->cur_end = e;
    return buf_append(&b->cur, b->t + a, e - a);
}

/* Pass 2: builds the utterances of the text in the chosen mode. */
static int build(struct builder *b, size_t len, int stamped_mode)
{
    struct line l;
    size_t pos = 0;
    int err = DP_OK;
    while (!err && next_line(b->t, len, &pos, &l)) {
        int starts = l.kind == LINE_STAMPED || (l.kind == LINE_PLAIN && !stamped_mode);
        if (starts || l.kind == LINE_SYSTEM) {
            if ((err = flush(b)))
                break;
            b->speaker = -1;
            b->stamp_start = l.start;
            b->stamp_end = l.kind == LINE_STAMPED ? l.stamp_end : l.start;
        }
        size_t a = starts ? l.msg : l.start, e = strip_edited(b->t, a, l.end);
        if (starts && dialogue_is_notice((const char *)b->t + a, e - a)) {
            /* "<Media omitted>" and the like: nothing said; a caption on the next lines is. */
            b->speaker = SPEAKER_PENDING;
            b->pend_start = l.name_start;
            b->pend_end = l.name_end;
            continue;
        }
        if (!starts && (l.kind != LINE_TEXT && l.kind != LINE_PLAIN))
            continue;
        if (starts)
            err = speaker_index(&b->sp, b->t, l.name_start, l.name_end, &b->speaker);
        else if (b->speaker == SPEAKER_PENDING && a < e)
            err = speaker_index(&b->sp, b->t, b->pend_start, b->pend_end, &b->speaker);
        if (!err && b->speaker >= 0)
            err = add_text(b, a, e);
    }
    return err ? err : flush(b);
}

/* The speaker rules of dialogue_parse(). */
static int speakers_ok(const struct builder *b, int stamped_mode)
{
    const struct dialogue *d = b->d;
    if (d->n < DIALOGUE_MIN_UTTERANCES || d->nspeakers < DIALOGUE_MIN_SPEAKERS)
        return 0;
    if (stamped_mode)
        return 1;
    long long repeated = 0;
    for (int i = 0; i < d->nspeakers; i++)
        if (b->sp.count[i] > 1)
            repeated += b->sp.count[i];
    return repeated * 3 >= (long long)d->n * 2;
}

/* Each utterance's time from its timestamp, the date order guessed from all of them. */
static int read_times(const unsigned char *t, struct dialogue *d)
{
    struct chat_stamp *st = malloc(((size_t)d->n + 1) * sizeof *st);
    if (!st)
        return DP_ERR_NOMEM;
    for (int i = 0; i < d->n; i++)
        chat_stamp_read((const char *)t + d->u[i].stamp_start, d->u[i].stamp_end - d->u[i].stamp_start, &st[i]);
    enum chat_date_order order = chat_stamp_order(st, d->n);
    for (int i = 0; i < d->n; i++)
        d->u[i].occurred_ms = chat_stamp_ms(&st[i], order);
    free(st);
    return DP_OK;
}

void dialogue_cleanup(struct dialogue *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->u[i].text);
    free(d->u);
    for (int i = 0; i < d->nspeakers; i++)
        free(d->speakers[i]);
    free(d->speakers);
    memset(d, 0, sizeof *d);
}

int dialogue_parse(const char *text, size_t len, struct dialogue *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *t = (const unsigned char *)text;
    if (!len || memchr(t, 0, len) || !utf8_valid(text, len))
        return DP_OK;

    /* Pass 1: counts, the mode, the share of starting lines. */
    uint64_t nonempty = 0, plain = 0, stamped = 0;
    struct line l;
    size_t pos = 0;
    while (next_line(t, len, &pos, &l)) {
        nonempty += l.kind != LINE_BLANK;
        plain += l.kind == LINE_PLAIN;
        stamped += l.kind == LINE_STAMPED || l.kind == LINE_SYSTEM;
    }
    int stamped_mode = stamped > 0 && stamped >= plain;
    uint64_t starting = stamped_mode ? stamped : stamped + plain;
    if (!nonempty || starting * 100 < nonempty * (stamped_mode ? DIALOGUE_MIN_SHARE_STAMPED : DIALOGUE_MIN_SHARE_PLAIN))
        return DP_OK;

    /* Pass 2. */
    struct builder b = {.t = t, .d = out, .speaker = -1};
    b.sp.d = out;
    buf_init(&b.cur, DIALOGUE_TEXT_MAX);
    int err = build(&b, len, stamped_mode);
    int ok = !err && speakers_ok(&b, stamped_mode);
    if (ok && stamped_mode && (err = read_times(t, out)))
        ok = 0;
    buf_cleanup(&b.cur);
    free(b.sp.count);
    free(b.sp.slot);
    if (!ok)
        dialogue_cleanup(out);
    return err;
}

const char *dialogue_given_name(const char *name, size_t *len)
{
    static const char *const titles[] = {"grandpa", "grandma", "granny", "grandad", "grandmother", "grandfather",
                                         "nana",    "papa",    "uncle",  "aunt",    "auntie",      "mr",
                                         "mrs",     "ms",      "dr",     "sir",     NULL};
    const char *first = name;
    *len = 0;
    for (int titled = 1; titled && *first;) {
        while (*first == ' ')
            first++;
        const char *first_end = strchr(first, ' ');
        *len = first_end ? (size_t)(first_end - first) : strlen(first);
        titled = 0;
        for (const char *const *t = titles; *t && !titled && first_end; t++)
            titled = text_lower_eq(first, *len, *t, strlen(*t));
        if (titled)
            first += *len;
    }
    return first;
}

/* 1 when one of the space-separated words of words is w[0..wl) (text_lower_eq). */
static int has_word(const char *words, const char *w, size_t wl)
{
    for (const char *p = words; wl && *p;) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && text_lower_eq(p, n, w, wl))
            return 1;
        p += n;
    }
    return 0;
}

int dialogue_speaker_is_self(const char *label, const char *name)
{
    if (!label || !name || !*label)
        return 0;
    if (name_eq(label, name) || has_word(name, label, strlen(label)))
        return 1;
    /* A label that holds the given name among its own words: "Grandpa Henry" (a contact name in
     * a grandchild's phone) is Henry Walsh; "Katie Walsh", who shares only the family name, is not. */
    size_t fl;
    const char *first = dialogue_given_name(name, &fl);
    return has_word(label, first, fl);
}
