/* The in-memory text index of an avatar (see text_index.h).
 *
 * Build: every memory is split into words (core/text.c), each word becomes its key, and the
 * (key, memory) pairs are grouped by key — a counting sort, since memories are read in order —
 * into one postings array: for each key, the memories holding it with how often. Keys live in
 * an open-addressing hash table over one string arena.
 *
 * Search: the postings of each query key are walked once, adding to per-memory counters (words
 * held, BM25); the touched memories are ranked with a bounded heap of `window` entries.
 *
 * Freshness: an index is immutable once built (searches share it by reference). When the avatar's
 * memories change, the next search makes an overlay: a small index of the memories changed since
 * the base was built (read through the memory_changes log, with their dialogue neighbours), over
 * the base with the memories it replaces marked dead — a segment in the manner of Lucene's. Both
 * are searched together with the statistics of the live memories, so a memory is found the moment
 * it is written; the background builder merges (rebuilds whole) when the overlay grows. Each
 * overlay is made from the one before it: only the memories changed since are read and keyed, the
 * rest are copied over with their postings, so a write costs its own rows however many came before. */
#include "brain/text_index.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "brain/avatar_slots.h"
#include "brain/memory_impl.h"
#include "brain/text_index_impl.h"
#include "brain/speakers.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/stem.h"
#include "core/time_words.h"
#include "ingest/dialogue.h"
#include "core/timeutil.h"
#include "core/wordnet.h"
#include "store/db.h"

static struct avatar_slots cache = AVATAR_SLOTS_INIT;
static long limit = 200000;

/* Words of all memories of one avatar an index may hold (8 bytes each): 400 MB. */
#define MAX_WORDS 50000000u

void text_index_limit(long max_memories)
{
    limit = max_memories;
}

static struct term *lookup(const struct text_index *x, const char *k, size_t n)
{
    if (!x->cap)
        return NULL;
    for (uint32_t s = hash_fnv1a(k, n) & (x->cap - 1);; s = (s + 1) & (x->cap - 1)) {
        struct term *t = &x->terms[s];
        if (!t->key_len || (t->key_len == n && !memcmp(x->arena + t->key_at, k, n)))
            return t;
    }
}

static int grow_terms(struct text_index *x)
{
    uint32_t cap = x->cap ? x->cap * 2 : 1024;
    struct term *old = x->terms, *t = calloc(cap, sizeof *t);
    if (!t)
        return DP_ERR_NOMEM;
    uint32_t old_cap = x->cap;
    x->terms = t;
    x->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].key_len)
            *lookup(x, x->arena + old[i].key_at, old[i].key_len) = old[i];
    free(old);
    return DP_OK;
}

/* The id of key k (added when new), or -1 when out of memory. */
static long term_id(struct text_index *x, const char *k, size_t n)
{
    if ((x->nterms + 1) * 2 > x->cap && grow_terms(x))
        return -1;
    struct term *t = lookup(x, k, n);
    if (!t->key_len) {
        if (x->arena_len + n > x->arena_cap) {
            size_t cap = x->arena_cap ? x->arena_cap * 2 : 65536;
            while (cap < x->arena_len + n)
                cap *= 2;
            char *a = realloc(x->arena, cap);
            if (!a)
                return -1;
            x->arena = a;
            x->arena_cap = cap;
        }
        memcpy(x->arena + x->arena_len, k, n);
        t->key_at = (uint32_t)x->arena_len;
        t->key_len = (uint32_t)n;
        t->first = x->nterms++; /* the term's number until postings are laid out */
        x->arena_len += n;
    }
    return t->first;
}

void text_index_free(struct slot_entry *e)
{
    struct text_index *x = (struct text_index *)e;
    if (!x)
        return;
    if (x->base)
        avatar_slots_release(&cache, &x->base->head);
    free(x->dead);
    if (x->map) { /* a saved file's arrays live in its mapping */
        munmap(x->map, x->map_len);
        free(x);
        return;
    }
    text_index_free_arrays(x);
    free(x->terms);
    free(x->arena);
    free(x->postings);
    free(x);
}

void text_index_free_arrays(struct text_index *x)
{
    free(x->ids);
    free(x->doclen);
    free(x->importance);
    free(x->created_ms);
    free(x->year);
    free(x->speaker);
    free(x->says_when);
    free(x->answers);
    free(x->speakers);
    x->ids = NULL;
    x->doclen = NULL;
    x->importance = NULL;
    x->created_ms = NULL;
    x->year = NULL;
    x->speaker = x->says_when = x->answers = NULL;
    x->speakers = NULL;
}

/* (term number, memory) for every word of every memory, in memory order. */
struct pairs {
    uint32_t *term, *doc;
    size_t n, cap;
};

static int pairs_add(struct pairs *p, uint32_t term, uint32_t doc)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1 << 16;
        uint32_t *t = realloc(p->term, cap * sizeof *t);
        if (t)
            p->term = t;
        uint32_t *d = t ? realloc(p->doc, cap * sizeof *d) : NULL;
        if (!d)
            return DP_ERR_NOMEM;
        p->doc = d;
        p->cap = cap;
    }
    p->term[p->n] = term;
    p->doc[p->n++] = doc;
    return DP_OK;
}

/* Adds the words of text to memory doc: its own (bit 0) or a neighbour's (BEFORE_BIT, AFTER_BIT);
 * its own words also say whether it says when (core/time_words.h). */
static int add_words(struct text_index *x, struct pairs *p, uint32_t doc, const char *text, uint32_t neighbour)
{
    const unsigned char *t = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&t, &s));) {
        char key[TEXT_KEY_MAX];
        size_t n = text_word_key_in(x->lang, s, len, key);
        long id = term_id(x, key, n);
        if (p->n >= MAX_WORDS)
            return DP_ERR_TOO_LARGE;
        if (id < 0 || id > (long)TERM_MASK || pairs_add(p, (uint32_t)id | neighbour, doc))
            return DP_ERR_NOMEM;
        x->doclen[doc] += !neighbour;
        if (!neighbour && !x->says_when[doc])
            x->says_when[doc] = (uint8_t)text_is_time_word(s, len);
    }
    return DP_OK;
}

/* Groups the pairs by term into x->postings (counting sort: memories stay in order, so
 * repeats of a word in one memory are neighbours and become its tf). */
static int lay_out(struct text_index *x, const struct pairs *p)
{
    uint32_t *start = calloc((size_t)x->nterms + 1, sizeof *start);
    /* Zeroed: a term's room is its pairs, and repeats of a word in one memory leave part of it
     * unused; a saved file holds those gaps too, and its loader checks every posting in it. */
    x->postings = calloc(p->n + 1, sizeof *x->postings);
    if (!start || !x->postings) {
        free(start);
        return DP_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n; i++)
        start[(p->term[i] & TERM_MASK) + 1]++;
    for (uint32_t t = 0; t < x->nterms; t++)
        start[t + 1] += start[t];
    uint32_t *count = calloc((size_t)x->nterms + 1, sizeof *count);
    if (!count) {
        free(start);
        return DP_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n; i++) {
        uint32_t t = p->term[i] & TERM_MASK;
        struct posting *last = count[t] ? &x->postings[start[t] + count[t] - 1] : NULL;
        if (!last || last->doc != p->doc[i])
            last = &x->postings[start[t] + count[t]++], *last = (struct posting){p->doc[i], 0, 0, 0, 0};
        if (p->term[i] & BEFORE_BIT)
            last->before += last->before < UINT8_MAX;
        else if (p->term[i] & AFTER_BIT)
            last->after += last->after < 15;
        else if (p->term[i] & EARLIER_BIT)
            last->earlier += last->earlier < 15;
        else
            last->tf += last->tf < UINT16_MAX;
    }
    for (uint32_t s = 0; s < x->cap; s++) {
        struct term *t = &x->terms[s];
        if (t->key_len) {
            uint32_t num = t->first;
            t->first = start[num];
            t->count = count[num];
            t->own = 0;
            for (uint32_t i = 0; i < t->count; i++)
                t->own += x->postings[t->first + i].tf > 0;
        }
    }
    free(start);
    free(count);
    return DP_OK;
}

/* The columns index_doc reads, in its order. */
#define ROW_COLUMNS "id, text, importance, created_at, kind, COALESCE(media_id, dialogue), seq, speaker, occurred_at"

/* A memory row (ROW_COLUMNS) of one of several result sets. */
struct row_ref {
    const struct db_rows *r;
    int i;
    int index; /* an overlay: this row is (re)indexed, not only a neighbour's context */
};

static const char *row_text(const struct row_ref *m, int col)
{
    return db_rows_text(m->r, m->i, col);
}

/* 1 when rows a and b (kind, dialogue, seq in columns 4–6), b right after a in id order, are
 * consecutive lines of one conversation: utterances of the same recording or chat (the media a
 * line was transcribed from, or the dialogue a card import gave it) one after the other, or
 * utterances added one by one through the API (no dialogue: a client storing a chat line by
 * line), in the order they came. */
static int follows(const struct row_ref *a, const struct row_ref *b)
{
    const char *kind = row_text(b, 4), *pkind = row_text(a, 4);
    if (!kind || !pkind || strcmp(kind, "utterance") || strcmp(pkind, "utterance"))
        return 0;
    const char *media = row_text(b, 5), *pmedia = row_text(a, 5);
    if (!media || !pmedia)
        return !media && !pmedia;
    return !strcmp(media, pmedia) && !db_rows_is_null(b->r, b->i, 6) && !db_rows_is_null(a->r, a->i, 6) &&
           db_rows_int(b->r, b->i, 6) == db_rows_int(a->r, a->i, 6) + 1;
}

static int ends_with_question(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '"' || text[n - 1] == ')'))
        n--;
    return n && text[n - 1] == '?';
}

/* The language the avatar is set to (its `language`; -1 for auto or when it cannot be read), and
 * its name into name (cap bytes; "" when unknown). */
static int avatar_language(struct db *db, const char *avatar_id, char *name, size_t cap)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    name[0] = 0;
    if (db_query(db, "SELECT language, name FROM avatars WHERE id = ?", p, 1, &r))
        return -1;
    int lang = r->nrows ? text_lang_from_code(db_rows_text(r, 0, 0)) : -1;
    if (r->nrows && db_rows_text(r, 0, 1))
        snprintf(name, cap, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    return lang;
}

/* An empty index of avatar_id labelled rev, with room for n memories; NULL when out of memory. */
struct text_index *text_index_alloc(const char *avatar_id, int64_t rev, size_t n)
{
    struct text_index *x = calloc(1, sizeof *x);
    n++;
    if (!x || !(x->ids = malloc(n * sizeof *x->ids)) || !(x->doclen = calloc(n, sizeof *x->doclen)) ||
        !(x->importance = malloc(n * sizeof *x->importance)) || !(x->created_ms = malloc(n * sizeof *x->created_ms)) ||
        !(x->year = calloc(n, sizeof *x->year)) || !(x->speaker = calloc(n, sizeof *x->speaker)) ||
        !(x->says_when = calloc(n, 1)) || !(x->answers = calloc(n, 1)) ||
        !(x->speakers = calloc(1, sizeof *x->speakers))) {
        text_index_free(x ? &x->head : NULL);
        return NULL;
    }
    snprintf(x->head.avatar, sizeof x->head.avatar, "%s", avatar_id);
    x->head.rev = rev;
    x->head.refs = 1;
    x->head.destroy = text_index_free;
    return x;
}

/* Adds memory m as number doc, with the words of the turns around it (earlier, prev, next: the
 * rows two before, one before and one after it in id order, NULL when none) when they are lines of
 * the same conversation. */
static int index_doc(struct text_index *x, struct pairs *pairs, uint32_t doc, const struct row_ref *earlier,
                     const struct row_ref *prev, const struct row_ref *m, const struct row_ref *next)
{
    snprintf(x->ids[doc], ID_LEN, "%s", row_text(m, 0));
    x->importance[doc] = (float)db_rows_real(m->r, m->i, 2);
    x->created_ms[doc] = 0;
    time_parse_rfc3339(row_text(m, 3), &x->created_ms[doc]);
    const char *occurred = row_text(m, 8);
    if (occurred && strlen(occurred) >= 4)
        x->year[doc] = (int16_t)atoi(occurred);
    char label[48];
    size_t ll = speaker_label(row_text(m, 7), row_text(m, 4), row_text(m, 1), label, sizeof label);
    x->speaker[doc] = (uint8_t)speakers_id(x->speakers, label, ll);
    /* A dialogue turn is also found, at a lower weight, by its neighbours: the turn it answers
     * ("who taught you cribbage?" finds "My uncle Walt, on the porch") and the one that follows
     * it ("Where was that?" — "In Chicago"). */
    int err = DP_OK;
    if (prev && follows(prev, m)) {
        err = add_words(x, pairs, doc, row_text(prev, 1), BEFORE_BIT);
        x->answers[doc] = ends_with_question(row_text(prev, 1)) ? TURN_ANSWERS : 0;
        /* and, less, by the turn before that: a reply often goes on with what its speaker said
         * before the other's question ("I went camping last week." — "Where?" — "In the forest") */
        if (!err && earlier && follows(earlier, prev))
            err = add_words(x, pairs, doc, row_text(earlier, 1), EARLIER_BIT);
    }
    if (ends_with_question(row_text(m, 1)))
        x->answers[doc] |= TURN_ASKS;
    if (!err && next && follows(m, next))
        err = add_words(x, pairs, doc, row_text(next, 1), AFTER_BIT);
    if (!err)
        err = add_words(x, pairs, doc, row_text(m, 1), 0);
    x->total_len += x->doclen[doc];
    x->ndocs = (int)doc + 1;
    return err;
}

/* Lays the pairs out into postings once every memory is added; 1 in x->sorted when the ids are in
 * byte order. */
static int index_finish(struct text_index *x, const struct pairs *pairs)
{
    for (int sp = 0; sp < x->speakers->n; sp++) /* the lines "you" means (dialogue labels of the avatar) */
        x->self[sp + 1] = (uint8_t)dialogue_speaker_is_self(x->speakers->s[sp].label, x->name);
    x->sorted = 1;
    for (int i = 1; i < x->ndocs && x->sorted; i++)
        x->sorted = strcmp(x->ids[i - 1], x->ids[i]) < 0;
    int err = x->cap ? DP_OK : grow_terms(x); /* no words at all: an empty table still answers lookups */
    return err ? err : lay_out(x, pairs);
}

static int index_build(struct db *db, const char *avatar_id, int64_t rev, struct text_index **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT " ROW_COLUMNS " FROM memories WHERE avatar_id = ? ORDER BY id", p, 1, &r);
    if (err)
        return err;
    struct text_index *x = text_index_alloc(avatar_id, rev, (size_t)r->nrows);
    struct pairs pairs = {0};
    if (!x) {
        err = DP_ERR_NOMEM;
        goto out;
    }
    /* The language the avatar is set to, or the one of the function words of up to 1000 memories
     * spread over the avatar ("auto"). */
    int lang = avatar_language(db, avatar_id, x->name, sizeof x->name);
    long counts[LANG_COUNT] = {0};
    int stride = r->nrows > 1000 ? r->nrows / 1000 : 1;
    for (int i = 0; lang < 0 && i < r->nrows; i += stride)
        text_lang_count(db_rows_text(r, i, 1), counts);
    x->lang = lang >= 0 ? (enum text_lang)lang : text_lang_pick(counts);
    for (int i = 0; i < r->nrows && !err; i++) {
        struct row_ref prev = {r, i - 1, 0}, m = {r, i, 0}, next = {r, i + 1, 0}, pp = {r, i - 2, 0};
        err = index_doc(x, &pairs, (uint32_t)i, i > 1 ? &pp : NULL, i > 0 ? &prev : NULL, &m,
                        i + 1 < r->nrows ? &next : NULL);
    }
    x->avgdl = x->ndocs && x->total_len > 0 ? x->total_len / x->ndocs : 1;
    if (!err)
        err = index_finish(x, &pairs);
out:
    free(pairs.term);
    free(pairs.doc);
    db_rows_free(r);
    if (err && x)
        text_index_free(&x->head);
    else
        *out = x;
    return err;
}

/* An overlay catches up with at most this many changes (two small reads each); further behind,
 * the index is built whole. The log keeps 1024 (migration 0019). */
#define OVERLAY_MAX_CHANGES 512

static int cmp_row_ids(const void *a, const void *b)
{
    const struct row_ref *x = a, *y = b;
    return strcmp(row_text(x, 0), row_text(y, 0));
}

/* The number of memory id in base (whose ids are sorted), or -1. */
static long base_doc(const struct text_index *base, const char *id)
{
    long lo = 0, hi = base->ndocs - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        int c = strcmp(base->ids[mid], id);
        if (!c)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Reads the rows around memory id (three before it, it if it still exists, three after) into rows
 * (appended; sets[] keeps the results to free), marking the ones whose words change with it: the
 * memory, the turn right before it and the two after it, whose neighbour words it is (index_doc). */
static int read_window(struct db *db, const char *avatar_id, const char *id, struct db_rows **sets, int *nsets,
                       struct row_ref *rows, int *nrows)
{
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(id)};
    struct db_rows *below, *above;
    int err =
        db_query(db, "SELECT " ROW_COLUMNS " FROM memories WHERE avatar_id = ? AND id < ? ORDER BY id DESC LIMIT 3", p,
                 2, &below);
    if (err)
        return err;
    sets[(*nsets)++] = below;
    if ((err = db_query(db, "SELECT " ROW_COLUMNS " FROM memories WHERE avatar_id = ? AND id >= ? ORDER BY id LIMIT 4",
                        p, 2, &above)))
        return err;
    sets[(*nsets)++] = above;
    for (int i = 0; i < below->nrows; i++)
        rows[(*nrows)++] = (struct row_ref){below, i, i == 0};
    int exists = above->nrows && !strcmp(db_rows_text(above, 0, 0), id);
    for (int i = 0; i < above->nrows; i++)
        rows[(*nrows)++] = (struct row_ref){above, i, i <= exists + 1};
    return DP_OK;
}

/* Marks the memories of base that the overlay replaces or that are gone, beside those its
 * predecessor marked (already in x->dead, counted in x->base_live and x->base_dead_len). */
static void mark_dead(struct text_index *x, const struct db_rows *changes, const struct row_ref *rows, int nrows)
{
    const struct text_index *base = x->base;
    int dead = base->ndocs - x->base_live;
    double dead_len = x->base_dead_len;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < (pass ? changes->nrows : nrows); i++) {
            if (!pass && !rows[i].index)
                continue;
            long d = base_doc(base, pass ? db_rows_text(changes, i, 0) : row_text(&rows[i], 0));
            if (d >= 0 && !x->dead[d]) {
                x->dead[d] = 1;
                dead++;
                dead_len += base->doclen[d];
            }
        }
    x->base_live = base->ndocs - dead;
    x->base_dead_len = dead_len;
    int live = x->base_live + x->ndocs;
    double len = base->total_len - dead_len + x->total_len;
    x->avgdl = live && len > 0 ? len / live : 1;
}

static int cmp_strs(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Which memories of the previous overlay prev the next one keeps: those neither changed since
 * (changes) nor indexed again from the rows just read (marked rows). keep[d] is 1 for a kept one;
 * returns how many, or -1 when out of memory. */
static long kept_docs(const struct text_index *prev, const struct db_rows *changes, const struct row_ref *rows,
                      int nrows, uint8_t *keep)
{
    const char **gone = malloc(((size_t)changes->nrows + (size_t)nrows + 1) * sizeof *gone);
    if (!gone)
        return -1;
    size_t ng = 0;
    for (int i = 0; i < changes->nrows; i++)
        gone[ng++] = db_rows_text(changes, i, 0);
    for (int i = 0; i < nrows; i++)
        if (rows[i].index)
            gone[ng++] = row_text(&rows[i], 0);
    qsort(gone, ng, sizeof *gone, cmp_strs);
    long n = 0;
    for (int d = 0; d < prev->ndocs; d++) {
        const char *id = prev->ids[d];
        keep[d] = !bsearch(&id, gone, ng, sizeof *gone, cmp_strs);
        n += keep[d];
    }
    free(gone);
    return n;
}

/* Copies kept memory d of prev into x as number to: its per-memory facts here, its words as pairs
 * (each posting as many times as it counts, so that laying them out gives it back). */
static void copy_doc(struct text_index *x, const struct text_index *prev, uint32_t d, uint32_t to)
{
    memcpy(x->ids[to], prev->ids[d], ID_LEN);
    x->doclen[to] = prev->doclen[d];
    x->importance[to] = prev->importance[d];
    x->created_ms[to] = prev->created_ms[d];
    x->year[to] = prev->year[d];
    x->speaker[to] = prev->speaker[d];
    x->says_when[to] = prev->says_when[d];
    x->answers[to] = prev->answers[d];
    x->total_len += prev->doclen[d];
}

static int copy_postings(struct text_index *x, struct pairs *pairs, const struct text_index *prev,
                         const uint32_t *renumber)
{
    for (uint32_t s = 0; s < prev->cap; s++) {
        const struct term *t = &prev->terms[s];
        long id = -1;
        for (uint32_t i = 0; t->key_len && i < t->count; i++) {
            const struct posting *p = &prev->postings[t->first + i];
            uint32_t doc = renumber[p->doc];
            if (doc == UINT32_MAX)
                continue;
            if (id < 0 && ((id = term_id(x, prev->arena + t->key_at, t->key_len)) < 0 || id > (long)TERM_MASK))
                return DP_ERR_NOMEM;
            int err = DP_OK;
            for (unsigned k = 0; k < p->tf && !err; k++)
                err = pairs_add(pairs, (uint32_t)id, doc);
            for (unsigned k = 0; k < p->before && !err; k++)
                err = pairs_add(pairs, (uint32_t)id | BEFORE_BIT, doc);
            for (unsigned k = 0; k < p->after && !err; k++)
                err = pairs_add(pairs, (uint32_t)id | AFTER_BIT, doc);
            for (unsigned k = 0; k < p->earlier && !err; k++)
                err = pairs_add(pairs, (uint32_t)id | EARLIER_BIT, doc);
            if (err)
                return err;
        }
    }
    return DP_OK;
}

/* The overlay at revision rev that follows prev: a base index, or an overlay of one (then only the
 * memories changed since prev are read, prev's other memories are copied over with their words
 * already keyed: a write costs its own rows, not those of every write since the base was built).
 * DP_ERR_CONFLICT when the change log cannot bridge the two revisions (too far, or pruned): the
 * caller builds the index whole. */
static int overlay_build(struct db *db, struct text_index *prev, int64_t rev, struct text_index **out)
{
    struct text_index *base = prev->base ? prev->base : prev;
    int64_t gap = rev - prev->head.rev;
    if (base->too_large || !base->sorted || gap <= 0 || gap > OVERLAY_MAX_CHANGES)
        return DP_ERR_CONFLICT;
    struct db_rows *changes;
    struct db_val p[] = {DB_TEXT(base->head.avatar), DB_INT(prev->head.rev), DB_INT(rev)};
    int err = db_query(db,
                       "SELECT memory_id FROM memory_changes WHERE avatar_id = ? AND rev > ? AND rev <= ? "
                       "ORDER BY memory_id",
                       p, 3, &changes);
    if (err)
        return err;
    if (changes->nrows != gap) { /* one row a revision: some are missing */
        db_rows_free(changes);
        return DP_ERR_CONFLICT;
    }
    struct db_rows **sets = calloc((size_t)gap * 2, sizeof *sets);
    struct row_ref *rows = calloc((size_t)gap * 7 + 1, sizeof *rows);
    int from_overlay = prev != base;
    uint8_t *keep = from_overlay ? malloc((size_t)prev->ndocs + 1) : NULL;
    uint32_t *renumber = from_overlay ? malloc(((size_t)prev->ndocs + 1) * sizeof *renumber) : NULL;
    int nsets = 0, nrows = 0, nindex = 0;
    long nkept = 0;
    struct text_index *x = NULL;
    struct pairs pairs = {0};
    err = sets && rows && (!from_overlay || (keep && renumber)) ? DP_OK : DP_ERR_NOMEM;
    for (int i = 0; i < changes->nrows && !err; i++)
        if (!i || strcmp(db_rows_text(changes, i, 0), db_rows_text(changes, i - 1, 0)))
            err = read_window(db, base->head.avatar, db_rows_text(changes, i, 0), sets, &nsets, rows, &nrows);
    if (err)
        goto out;
    /* The windows in id order, each row once (marked when any window marks it): a marked row's
     * neighbours in the list are its neighbours in the avatar, as its window held them. */
    qsort(rows, (size_t)nrows, sizeof *rows, cmp_row_ids);
    int n = 0;
    for (int i = 0; i < nrows; i++) {
        if (n && !cmp_row_ids(&rows[n - 1], &rows[i]))
            rows[n - 1].index |= rows[i].index;
        else
            rows[n++] = rows[i];
    }
    nrows = n;
    for (int i = 0; i < nrows; i++)
        nindex += rows[i].index;
    if (from_overlay && (nkept = kept_docs(prev, changes, rows, nrows, keep)) < 0)
        err = DP_ERR_NOMEM;
    if (err || !(x = text_index_alloc(base->head.avatar, rev, (size_t)nindex + (size_t)nkept)) ||
        !(x->dead = calloc((size_t)base->ndocs + 1, 1))) {
        err = DP_ERR_NOMEM;
        goto out;
    }
    x->lang = base->lang;
    memcpy(x->name, base->name, sizeof x->name);
    x->base = base;
    x->base_live = base->ndocs;
    if (from_overlay) { /* what prev replaced stays replaced; its speakers keep their numbers */
        memcpy(x->dead, prev->dead, (size_t)base->ndocs);
        x->base_live = prev->base_live;
        x->base_dead_len = prev->base_dead_len;
        *x->speakers = *prev->speakers;
    } else {
        *x->speakers = *base->speakers;
    }
    /* Numbered in id order (ranking breaks ties by number within one index): prev's kept memories
     * and the rows indexed now, merged. */
    uint32_t doc = 0;
    for (int i = 0, d = 0; !err;) {
        while (i < nrows && !rows[i].index)
            i++;
        while (from_overlay && d < prev->ndocs && !keep[d])
            renumber[d++] = UINT32_MAX;
        int have_row = i < nrows, have_prev = from_overlay && d < prev->ndocs;
        if (!have_row && !have_prev)
            break;
        if (have_prev && (!have_row || strcmp(prev->ids[d], row_text(&rows[i], 0)) < 0)) {
            renumber[d] = doc;
            copy_doc(x, prev, (uint32_t)d++, doc++);
        } else {
            err = index_doc(x, &pairs, doc++, i > 1 ? &rows[i - 2] : NULL, i > 0 ? &rows[i - 1] : NULL, &rows[i],
                            i + 1 < nrows ? &rows[i + 1] : NULL);
            i++;
        }
    }
    x->ndocs = (int)doc;
    if (!err && from_overlay)
        err = copy_postings(x, &pairs, prev, renumber);
    if (!err)
        err = index_finish(x, &pairs);
    if (!err) {
        x->sorted = 0; /* an overlay is never the base of another: they all lie on base */
        avatar_slots_ref(&cache, &base->head);
        mark_dead(x, changes, rows, nrows);
    } else if (x) {
        x->base = NULL; /* no reference taken on it yet */
    }
out:
    for (int i = 0; i < nsets; i++)
        db_rows_free(sets[i]);
    free(sets);
    free(rows);
    free(keep);
    free(renumber);
    free(pairs.term);
    free(pairs.doc);
    db_rows_free(changes);
    if (err && x)
        text_index_free(&x->head);
    else if (!err)
        *out = x;
    return err;
}

/* Memories are numbered across an overlay: its base's first, then its own. */
static uint32_t base_docs(const struct text_index *x)
{
    return x->base ? (uint32_t)x->base->ndocs : 0;
}

/* The index holding memory *d, *d made its number there. */
static const struct text_index *doc_home(const struct text_index *x, uint32_t *d)
{
    uint32_t nb = base_docs(x);
    if (*d < nb)
        return x->base;
    *d -= nb;
    return x;
}

static int live_docs(const struct text_index *x)
{
    return x->base ? x->base_live + x->ndocs : x->ndocs;
}

/* The index being ranked on this thread (an overlay's memory numbers are not in id order). */
static _Thread_local const struct text_index *ranking;

/* 1 when memory a comes before b in id order. */
static int id_before(uint32_t a, uint32_t b)
{
    const struct text_index *x = ranking;
    uint32_t nb = x ? base_docs(x) : 0;
    if ((a < nb) == (b < nb))
        return a < b; /* in one index: numbered in id order */
    const struct text_index *ha = doc_home(x, &a), *hb = doc_home(x, &b);
    return strcmp(ha->ids[a], hb->ids[b]) < 0;
}

/* Better first: more words, then BM25, then id order. */
static int better(const float *words, const float *score, uint32_t a, uint32_t b)
{
    if (words[a] != words[b])
        return words[a] > words[b];
    if (score[a] != score[b])
        return score[a] > score[b];
    return id_before(a, b);
}

struct rank_ctx {
    const float *words;
    const float *score;
};

static _Thread_local struct rank_ctx sort_ctx;

static int cmp_docs(const void *a, const void *b)
{
    uint32_t u = *(const uint32_t *)a, v = *(const uint32_t *)b;
    if (u == v)
        return 0;
    return better(sort_ctx.words, sort_ctx.score, u, v) ? -1 : 1;
}

/* Keeps the `window` best of the touched memories in heap (worst at the root). */
static int select_best(const uint32_t *touched, size_t nt, const float *words, const float *score, int window,
                       uint32_t *heap)
{
    int n = 0;
    for (size_t i = 0; i < nt; i++) {
        uint32_t d = touched[i];
        if (n == window && !better(words, score, d, heap[0]))
            continue;
        if (n < window) {
            int c = n++;
            heap[c] = d;
            while (c > 0 && better(words, score, heap[(c - 1) / 2], heap[c])) {
                uint32_t t = heap[c];
                heap[c] = heap[(c - 1) / 2];
                heap[(c - 1) / 2] = t;
                c = (c - 1) / 2;
            }
            continue;
        }
        heap[0] = d;
        for (int c = 0;;) {
            int l = 2 * c + 1, r = l + 1, m = c;
            if (l < n && better(words, score, heap[m], heap[l]))
                m = l;
            if (r < n && better(words, score, heap[m], heap[r]))
                m = r;
            if (m == c)
                break;
            uint32_t t = heap[c];
            heap[c] = heap[m];
            heap[m] = t;
            c = m;
        }
    }
    return n;
}

/* One way a query key is met: the key itself or a related one, at a weight; its postings in the
 * base (t[0], an overlay's) and in the index itself (t[1]), df over the live memories. */
struct variant {
    const struct term *t[2];
    float weight;
    uint32_t df;   /* live memories holding it in their own words (at least 1: a word met only in
                    * neighbours counts as if one held it) */
    uint32_t live; /* live memories holding it in their own words or their neighbours' */
};

/* Per-memory tallies of a ranking. Each query key counts once per memory, by its best match —
 * the key itself in the memory's own words counts its idf (a rare word of the question more than
 * "kind" in "what kind of art"; df counts the memories holding it in their own words, not those
 * finding it in a neighbour), a related key or a neighbour's word a share of it — so a synonym
 * never outranks the word itself and ten synonyms do not outweigh one exact word. */
struct tally {
    float *words, *score;   /* over the keys done */
    float *kwords, *kscore; /* the current key's best */
    int8_t *key;            /* the key kwords/kscore belong to; -1 none yet */
    uint32_t *touched;
    size_t nt;
};

/* How much posting p counts for its memory, by where the word is (the memory's own words, the
 * turn before it, the one after it, the one two before it), and how often there into *tf. */
static double where_weight(const struct text_index *seg, const struct posting *p, double *tf)
{
    double before = seg->answers[p->doc] & TURN_ANSWERS ? TEXT_ANSWER_WEIGHT : TEXT_BEFORE_WEIGHT;
    if (p->tf) {
        /* Said in the memory itself: its neighbours' mentions add to the count as BM25F's weighted
         * fields do — a reply to a question about a word is more about it than a line that only
         * mentions it ("Who's Eddie?" — "Eddie Salazar, my best buddy…" over "…on a dare from
         * Eddie."), while what the memory holds (the words score) stays one mention. */
        *tf = p->tf + before * p->before + TEXT_AFTER_WEIGHT * p->after + TEXT_EARLIER_WEIGHT * p->earlier;
        return 1.0;
    }
    *tf = p->before ? p->before : p->after ? p->after : p->earlier;
    if (p->before)
        return before;
    return p->after ? TEXT_AFTER_WEIGHT : TEXT_EARLIER_WEIGHT;
}

static void tally_key(const struct text_index *x, struct tally *t, int k, const struct variant *v, int nv)
{
    double ndocs = live_docs(x);
    for (int j = 0; j < nv; j++) {
        double df = v[j].df, idf = log(1.0 + (ndocs - df + 0.5) / (df + 0.5));
        for (int s = 0; s < 2; s++) {
            const struct term *term = v[j].t[s];
            const struct text_index *seg = s ? x : x->base;
            if (!term)
                continue;
            const struct posting *p = seg->postings + term->first;
            const uint8_t *dead = s ? NULL : x->dead;
            uint32_t off = s ? base_docs(x) : 0;
            for (uint32_t i = 0; i < term->count; i++) {
                if (dead && dead[p[i].doc])
                    continue;
                uint32_t d = p[i].doc + off;
                double tf, where = where_weight(seg, &p[i], &tf);
                float w = (float)(v[j].weight * where * idf);
                float bm = (float)(w * idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * seg->doclen[p[i].doc] / x->avgdl)));
                if (t->key[d] < 0)
                    t->touched[t->nt++] = d;
                if (t->key[d] != k) {
                    t->key[d] = (int8_t)k;
                    t->kwords[d] = t->kscore[d] = 0;
                }
                if (w > t->kwords[d]) {
                    t->words[d] += w - t->kwords[d];
                    t->kwords[d] = w;
                }
                if (bm > t->kscore[d]) {
                    t->score[d] += bm - t->kscore[d];
                    t->kscore[d] = bm;
                }
            }
        }
    }
}

/* Memories that occurred in the year the query names hold its word, as if they said it. */
static int16_t doc_year(const struct text_index *x, uint32_t d)
{
    const struct text_index *home = doc_home(x, &d);
    return home == x->base && x->dead[d] ? 0 : home->year[d];
}

static void tally_year(const struct text_index *x, struct tally *t, int k, int year, uint32_t said_df)
{
    uint32_t df = said_df, nd = base_docs(x) + (uint32_t)x->ndocs;
    for (uint32_t d = 0; d < nd; d++)
        df += doc_year(x, d) == year;
    double ndocs = live_docs(x), idf = log(1.0 + (ndocs - df + 0.5) / (df + 0.5));
    for (uint32_t d = 0; d < nd; d++) {
        if (doc_year(x, d) != year)
            continue;
        if (t->key[d] < 0)
            t->touched[t->nt++] = d;
        if (t->key[d] != k) {
            t->key[d] = (int8_t)k;
            t->kwords[d] = t->kscore[d] = 0;
        }
        if (idf > t->kwords[d]) {
            t->words[d] += (float)idf - t->kwords[d];
            t->kwords[d] = (float)idf;
        }
    }
}

static void scale(struct tally *t, uint32_t d, float f)
{
    t->words[d] *= f;
    t->score[d] *= f;
}

/* What the question is about beyond its words: a "when" question favours memories that say when,
 * and one naming people who speak in the memories — "you" naming the avatar itself — favours
 * their own lines (lines said by anyone else weigh less; memories without a speaker are left as
 * they are). A memory that asks a question tells less than one that answers it. */
static void weigh_context(const struct text_index *x, const struct text_query *q, struct tally *t)
{
    uint8_t named[SPEAKERS_MAX + 1] = {0};
    int any = 0;
    for (int i = 0; i < q->n; i++) {
        int s = speakers_named(x->speakers, q->key[i], q->len[i]);
        if (s)
            named[s] = 1, any = 1;
    }
    for (int s = 1; q->you && s <= x->speakers->n; s++)
        if (x->self[s])
            named[s] = 1, any = 1;
    for (size_t i = 0; i < t->nt; i++) {
        uint32_t d = t->touched[i], at = d;
        const struct text_index *home = doc_home(x, &at);
        if (q->when && home->says_when[at])
            scale(t, d, TEXT_SAYS_WHEN_WEIGHT);
        if (any && home->speaker[at] && !named[home->speaker[at]])
            scale(t, d, TEXT_OTHER_SPEAKER_WEIGHT);
        if (home->answers[at] & TURN_ASKS)
            scale(t, d, TEXT_ASKS_WEIGHT);
    }
}

static const struct term *find_term(const struct text_index *x, const char *k, size_t n)
{
    const struct term *found = lookup(x, k, n);
    return found && found->key_len ? found : NULL;
}

/* Key k in x (and its base) into *v, with its df over the live memories; 0 when no memory holds it. */
static int find_variant(const struct text_index *x, const char *k, size_t n, struct variant *v)
{
    v->t[0] = x->base ? find_term(x->base, k, n) : NULL;
    v->t[1] = find_term(x, k, n);
    v->df = v->t[1] ? v->t[1]->own : 0;
    v->live = v->t[1] ? v->t[1]->count : 0;
    if (v->t[0]) {
        const struct posting *p = x->base->postings + v->t[0]->first;
        for (uint32_t i = 0; i < v->t[0]->count; i++)
            if (!x->dead[p[i].doc]) {
                v->live++;
                v->df += p[i].tf > 0;
            }
    }
    if (!v->df && v->live) /* met only beside a memory that is gone: as rare as can be */
        v->df = 1;
    return v->live > 0;
}

/* q as the index keys words: itself for English; for another language, its words keyed with
 * that language's stemmer into *local, without the related words (WordNet is English). */
static const struct text_query *keyed_for(const struct text_index *x, const struct text_query *q,
                                          struct text_query *local)
{
    if (x->lang == LANG_EN)
        return q;
    local->n = q->n;
    local->nalt = 0;
    local->year = q->year;
    local->when = q->when;
    local->you = q->you;
    local->year_key = q->year_key;
    for (int i = 0; i < q->n; i++)
        local->len[i] =
            q->word_len[i] ? text_word_key_in(x->lang, (const unsigned char *)q->word[i], q->word_len[i], local->key[i])
                           : (memcpy(local->key[i], q->key[i], q->len[i]), q->len[i]);
    return local;
}

/* Each thread's tallies, kept from one ranking to the next: a ranking touches the memories holding
 * its words, and handing back zeroed arrays over every memory of a large avatar each time (1.7 MB
 * at 100k) cost more in page faults than the ranking itself. Every memory not touched holds zero
 * (key -1); a ranking puts back the ones it touched. */
struct scratch {
    size_t cap;
    float *words, *score, *kwords, *kscore;
    int8_t *key;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_release(struct scratch *s)
{
    free(s->words);
    free(s->score);
    free(s->kwords);
    free(s->kscore);
    free(s->key);
    s->words = s->score = s->kwords = s->kscore = NULL;
    s->key = NULL;
    s->cap = 0;
}

static void scratch_free(void *p)
{
    scratch_release(p);
    free(p);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* This thread's tallies with room for nd memories, NULL when out of memory. */
static struct scratch *scratch_get(size_t nd)
{
    pthread_once(&scratch_once, scratch_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s && (!(s = calloc(1, sizeof *s)) || pthread_setspecific(scratch_key, s))) {
        free(s);
        return NULL;
    }
    if (s->cap >= nd)
        return s;
    scratch_release(s);
    size_t cap = nd + nd / 4 + 1024; /* an avatar growing does not reallocate at every memory */
    if (!(s->words = calloc(cap, sizeof(float))) || !(s->score = calloc(cap, sizeof(float))) ||
        !(s->kwords = calloc(cap, sizeof(float))) || !(s->kscore = calloc(cap, sizeof(float))) ||
        !(s->key = malloc(cap))) {
        scratch_release(s);
        return NULL;
    }
    memset(s->key, -1, cap);
    s->cap = cap;
    return s;
}

static int rank(const struct text_index *x, const struct text_query *query, int window, struct text_match **out, int *n)
{
    struct text_query local;
    const struct text_query *q = keyed_for(x, query, &local);
    *out = NULL;
    *n = 0;
    size_t total = 0;
    struct variant v[MEMORY_QUERY_TERMS + TEXT_QUERY_ALTS];
    int vkey[MEMORY_QUERY_TERMS + TEXT_QUERY_ALTS], nv = 0;
    for (int i = 0; i < q->n; i++)
        if (find_variant(x, q->key[i], q->len[i], &v[nv])) {
            v[nv].weight = 1;
            vkey[nv++] = i;
        }
    for (int i = 0; i < q->nalt; i++)
        if (find_variant(x, q->alt[i], q->alt_len[i], &v[nv])) {
            v[nv].weight = q->alt_weight[i];
            vkey[nv++] = q->alt_of[i];
        }
    for (int j = 0; j < nv; j++)
        total += v[j].live;
    if ((!total && !q->year) || window <= 0)
        return DP_OK;
    size_t nd = base_docs(x) + (size_t)x->ndocs;
    if (q->year)
        total += nd; /* memories of that year join the touched */
    struct scratch *sc = scratch_get(nd);
    struct tally t = {0};
    if (sc)
        t = (struct tally){sc->words, sc->score, sc->kwords, sc->kscore, sc->key, malloc(total * sizeof(uint32_t)), 0};
    uint32_t *heap = malloc((size_t)window * sizeof *heap);
    int err = DP_ERR_NOMEM;
    if (!sc || !t.touched || !heap)
        goto out;
    for (int k = 0; k < q->n; k++) {
        struct variant kv[MEMORY_QUERY_TERMS + TEXT_QUERY_ALTS];
        int nk = 0;
        for (int j = 0; j < nv; j++)
            if (vkey[j] == k)
                kv[nk++] = v[j];
        tally_key(x, &t, k, kv, nk);
        if (q->year && k == q->year_key)
            tally_year(x, &t, k, q->year, nk ? kv[0].df : 0);
    }
    ranking = x;
    weigh_context(x, query, &t);
    int m = select_best(t.touched, t.nt, t.words, t.score, window, heap);
    sort_ctx = (struct rank_ctx){t.words, t.score};
    qsort(heap, (size_t)m, sizeof *heap, cmp_docs);
    *out = malloc(((size_t)m + 1) * sizeof **out);
    if (!*out)
        goto out;
    for (int i = 0; i < m; i++) {
        struct text_match *r = &(*out)[i];
        uint32_t d = heap[i], at = d;
        const struct text_index *home = doc_home(x, &at);
        memcpy(r->id, home->ids[at], ID_LEN);
        r->words = t.words[d];
        r->bm25 = t.score[d];
        r->importance = home->importance[at];
        r->created_ms = home->created_ms[at];
    }
    *n = m;
    err = DP_OK;
out:
    for (size_t i = 0; i < t.nt; i++) { /* the tallies as the next ranking on this thread expects them */
        uint32_t d = t.touched[i];
        t.words[d] = t.score[d] = t.kwords[d] = t.kscore[d] = 0;
        t.key[d] = -1;
    }
    free(t.touched);
    free(heap);
    return err;
}

/* Marks (avatar, rev) as one the engines answer, so that its searches do not count and read
 * its memories again each time. */
static void remember_too_large(const char *avatar_id, int64_t rev)
{
    struct text_index *m = calloc(1, sizeof *m);
    if (!m)
        return;
    snprintf(m->head.avatar, sizeof m->head.avatar, "%s", avatar_id);
    m->head.rev = rev;
    m->head.refs = 1;
    m->head.destroy = text_index_free;
    m->too_large = 1;
    avatar_slots_keep(&cache, &m->head);
    avatar_slots_release(&cache, &m->head);
}

/* Rebuilding an index of more than this many memories happens in the background while the
 * engines answer (a rebuild at 100k memories takes most of a second). */
#define REBUILD_IN_BACKGROUND 5000

/* An overlay holding more memories than this is merged into a new base by the builder. */
#define MERGE_AT(base) (256 + (base)->ndocs / 16)

/* The background builder: one thread with its own connection, a small queue of avatars. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stopping;
    char *database_url;
    char *snapshot_dir;    /* where base indexes are saved (text_index_file.c); NULL: nowhere */
    pthread_mutex_t files; /* held while a file is written or removed (a deleted avatar's stays gone) */
    int preloading;        /* the saved indexes are being read back (preload_saved) */
    pthread_cond_t preloaded;
    char queue[16][ID_LEN];
    int queued;
} builder = {.lock = PTHREAD_MUTEX_INITIALIZER,
             .wake = PTHREAD_COND_INITIALIZER,
             .files = PTHREAD_MUTEX_INITIALIZER,
             .preloaded = PTHREAD_COND_INITIALIZER};

/* Queues avatar_id for a rebuild; 0 when there is no builder (the caller builds). */
static int builder_request(const char *avatar_id)
{
    pthread_mutex_lock(&builder.lock);
    int ok = builder.running && !builder.stopping;
    int known = 0;
    for (int i = 0; ok && i < builder.queued && !known; i++)
        known = !strcmp(builder.queue[i], avatar_id);
    if (ok && !known && builder.queued < 16) {
        snprintf(builder.queue[builder.queued++], ID_LEN, "%s", avatar_id);
        pthread_cond_signal(&builder.wake);
    }
    pthread_mutex_unlock(&builder.lock);
    return ok;
}

/* At a start, before any search asks: the indexes saved by the last run are read back (as many as
 * the cache holds), and WordNet, which keys every query, is loaded when there is any; so the first
 * search of a large avatar finds its index in memory and pays neither. A search that comes first
 * reads the file itself (the same result; the slower one is let go). */
/* Milliseconds of CPU this thread has used (the load of a file, apart from waiting for a core). */
static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits for preload_saved to finish (only ever at a start), so that a search does not read the
 * same file beside it. */
static void wait_preload(void)
{
    pthread_mutex_lock(&builder.lock);
    while (builder.preloading)
        pthread_cond_wait(&builder.preloaded, &builder.lock);
    pthread_mutex_unlock(&builder.lock);
}

static void preload_saved(struct db **db)
{
    DIR *d = builder.snapshot_dir ? opendir(builder.snapshot_dir) : NULL;
    int loaded = 0;
    int64_t t0 = time_now_ms();
    double c0 = thread_cpu_ms();
    for (struct dirent *de; d && (de = readdir(d)) != NULL && loaded < AVATAR_SLOTS && !builder.stopping;) {
        size_t n = strlen(de->d_name);
        if (n < 5 || n - 4 >= ID_LEN || strcmp(de->d_name + n - 4, ".tix"))
            continue;
        char avatar[ID_LEN];
        memcpy(avatar, de->d_name, n - 4);
        avatar[n - 4] = 0;
        int64_t rev = -1;
        if ((!*db && db_open(db, builder.database_url)) || memory_avatar_rev(*db, avatar, &rev))
            continue;
        if (rev < 0) { /* an avatar deleted while this server was away: its file goes too */
            text_index_forget(avatar);
            continue;
        }
        struct slot_entry *have = avatar_slots_find_any(&cache, avatar, "");
        if (have) {
            avatar_slots_release(&cache, have);
            continue;
        }
        double f0 = thread_cpu_ms();
        struct text_index *x = text_index_file_load(builder.snapshot_dir, avatar, rev);
        DP_LOG(LOG_DEBUG, "[memory] the saved index of avatar %s: %.0f ms CPU", avatar, thread_cpu_ms() - f0);
        if (x) {
            avatar_slots_keep(&cache, &x->head);
            /* Caught up here with what was written since it was saved (by this server before it
             * stopped, or by another process meanwhile), so the first search finds it current. */
            struct text_index *o = NULL;
            if (x->head.rev < rev && overlay_build(*db, x, rev, &o) == DP_OK) {
                avatar_slots_keep(&cache, &o->head);
                if (rev - x->head.rev > OVERLAY_MAX_CHANGES / 2 || o->ndocs > MERGE_AT(x))
                    builder_request(avatar);
                avatar_slots_release(&cache, &o->head);
            }
            avatar_slots_release(&cache, &x->head);
            loaded++;
        }
    }
    if (d)
        closedir(d);
    pthread_mutex_lock(&builder.lock);
    builder.preloading = 0;
    pthread_cond_broadcast(&builder.preloaded);
    pthread_mutex_unlock(&builder.lock);
    if (loaded)
        DP_LOG(LOG_INFO, "[memory] read %d saved search indexes in %lld ms (%.0f ms CPU)", loaded,
               (long long)(time_now_ms() - t0), thread_cpu_ms() - c0);
}

static void *builder_main(void *arg)
{
    (void)arg;
    struct db *db = NULL;
    preload_saved(&db);
    /* From here on it only merges and rebuilds, work no request waits for: on a machine of few
     * cores it yields to the requests (a rebuild at 100k memories is most of a second of CPU).
     * Linux gives each thread its own nice value; the preload above, which a start's first search
     * waits for, ran at the usual priority. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&builder.lock);
    while (!builder.stopping) {
        if (!builder.queued) {
            pthread_cond_wait(&builder.wake, &builder.lock);
            continue;
        }
        char avatar[ID_LEN];
        memcpy(avatar, builder.queue[0], ID_LEN);
        memmove(builder.queue[0], builder.queue[1], (size_t)--builder.queued * ID_LEN);
        pthread_mutex_unlock(&builder.lock);
        /* The revision is read before the rows: an index may hold newer rows than its label
         * says (then it is simply built again), never older. */
        int64_t rev = -1;
        if ((db || db_open(&db, builder.database_url) == DP_OK) && memory_avatar_rev(db, avatar, &rev))
            rev = -1;
        struct slot_entry *have = rev >= 0 ? avatar_slots_find(&cache, avatar, rev, "") : NULL;
        struct text_index *x = NULL;
        int err = DP_OK;
        /* An overlay at this revision is merged: the base is built again whole. */
        int current = have && !((struct text_index *)have)->base;
        if (have)
            avatar_slots_release(&cache, have);
        if (!current && rev >= 0 && (err = index_build(db, avatar, rev, &x)) == DP_OK) {
            avatar_slots_keep(&cache, &x->head);
            /* Large enough to be built here: the next start reads it instead of building it
             * (saved once searches have it: writing tens of MB must not hold them up). */
            if (x->ndocs > REBUILD_IN_BACKGROUND && builder.snapshot_dir) {
                pthread_mutex_lock(&builder.files);
                /* Not for an avatar deleted while it was built (its words must not outlive it). */
                int64_t now = -1;
                if (!memory_avatar_rev(db, avatar, &now) && now >= 0 && text_index_file_save(x, builder.snapshot_dir))
                    DP_LOG(LOG_WARN, "[memory] cannot save the search index of avatar %s in %s", avatar,
                           builder.snapshot_dir);
                pthread_mutex_unlock(&builder.files);
            }
            avatar_slots_release(&cache, &x->head);
        } else if (err == DP_ERR_TOO_LARGE) {
            remember_too_large(avatar, rev);
        }
        pthread_mutex_lock(&builder.lock);
    }
    pthread_mutex_unlock(&builder.lock);
    if (db)
        db_close(db);
    return NULL;
}

int text_index_start(const char *database_url, const char *snapshot_dir)
{
    builder.database_url = strdup(database_url);
    builder.snapshot_dir = snapshot_dir ? strdup(snapshot_dir) : NULL;
    builder.preloading = 1;
    if (!builder.database_url || (snapshot_dir && !builder.snapshot_dir) ||
        pthread_create(&builder.thread, NULL, builder_main, NULL)) {
        free(builder.database_url);
        free(builder.snapshot_dir);
        builder.database_url = builder.snapshot_dir = NULL;
        builder.preloading = 0;
        return DP_ERR_IO;
    }
    builder.running = 1;
    return DP_OK;
}

void text_index_stop(void)
{
    if (!builder.running)
        return;
    pthread_mutex_lock(&builder.lock);
    builder.stopping = 1;
    pthread_cond_signal(&builder.wake);
    pthread_mutex_unlock(&builder.lock);
    pthread_join(builder.thread, NULL);
    builder.running = builder.stopping = builder.queued = 0;
    free(builder.database_url);
    free(builder.snapshot_dir);
    builder.database_url = builder.snapshot_dir = NULL;
}

static void *warm_main(void *arg)
{
    (void)arg;
    double c0 = thread_cpu_ms();
    wordnet_ready();
    DP_LOG(LOG_DEBUG, "[memory] WordNet for the saved indexes: %.0f ms CPU", thread_cpu_ms() - c0);
    return NULL;
}

void text_index_warm(const char *snapshot_dir)
{
    DIR *d = snapshot_dir ? opendir(snapshot_dir) : NULL;
    int saved = 0;
    for (struct dirent *de; d && !saved && (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        saved = n > 4 && !strcmp(de->d_name + n - 4, ".tix");
    }
    if (d)
        closedir(d);
    pthread_t t;
    if (saved && !pthread_create(&t, NULL, warm_main, NULL))
        pthread_detach(t);
}

void text_index_forget(const char *avatar_id)
{
    pthread_mutex_lock(&builder.files);
    text_index_file_remove(builder.snapshot_dir, avatar_id);
    pthread_mutex_unlock(&builder.files);
}

/* The saved index of the avatar (text_index_file.c), not newer than rev; NULL when none. The
 * lock keeps the builder from renaming a new file in while it is read (the read is whole or
 * refused either way; this only spares a wasted read). */
static struct text_index *snapshot_load(const char *avatar_id, int64_t rev)
{
    pthread_mutex_lock(&builder.lock);
    char *dir = builder.snapshot_dir ? strdup(builder.snapshot_dir) : NULL;
    pthread_mutex_unlock(&builder.lock);
    int64_t t0 = time_now_ms();
    double c0 = thread_cpu_ms();
    struct text_index *x = dir ? text_index_file_load(dir, avatar_id, rev) : NULL;
    if (x)
        DP_LOG(
            LOG_DEBUG,
            "[memory] read the saved index of avatar %s (%d memories, revision %lld of %lld) in %lld ms (%.0f ms CPU)",
            avatar_id, x->ndocs, (long long)x->head.rev, (long long)rev, (long long)(time_now_ms() - t0),
            thread_cpu_ms() - c0);
    free(dir);
    return x;
}

/* The avatar's index for rev (built now if need be) with a reference; DP_ERR_TOO_LARGE when the
 * engines are to answer. */
static int acquire(struct db *db, const char *avatar_id, int64_t rev, struct text_index **out)
{
    struct text_index *x = (struct text_index *)avatar_slots_find(&cache, avatar_id, rev, "");
    if (x && x->too_large) {
        avatar_slots_release(&cache, &x->head);
        return DP_ERR_TOO_LARGE;
    }
    if (!x) {
        if (limit <= 0)
            return DP_ERR_TOO_LARGE;
        struct text_index *stale = (struct text_index *)avatar_slots_find_any(&cache, avatar_id, "");
        if (!stale) { /* a start: the builder may be reading this avatar's file already */
            wait_preload();
            stale = (struct text_index *)avatar_slots_find_any(&cache, avatar_id, "");
        }
        /* Nothing in memory (a start): the index saved by an earlier run, caught up below by an
         * overlay like any index built here; milliseconds where a build takes a second. */
        if (!stale && (stale = snapshot_load(avatar_id, rev)) != NULL)
            avatar_slots_keep(&cache, &stale->head);
        if (stale && stale->head.rev == rev && !stale->too_large) { /* read back, current */
            *out = stale;
            return DP_OK;
        }
        /* Changed since: an overlay of the memories changed, when the change log bridges the two
         * revisions — milliseconds where building the index whole takes most of a second. */
        if (stale && !stale->too_large) {
            int err = overlay_build(db, stale, rev, &x);
            if (!err && live_docs(x) > limit) {
                text_index_free(&x->head);
                err = DP_ERR_CONFLICT;
            }
            if (!err) {
                /* Merged off the request path when the overlay grows, or when it is half way to
                 * what one can bridge: the base (and so its saved file) then stays close enough to
                 * the memories for a start to catch up with an overlay. */
                if (x->ndocs > MERGE_AT(x->base) || rev - x->base->head.rev > OVERLAY_MAX_CHANGES / 2)
                    builder_request(avatar_id);
                avatar_slots_keep(&cache, &x->head);
                avatar_slots_release(&cache, &stale->head);
                *out = x;
                return DP_OK;
            }
            if (err != DP_ERR_CONFLICT) {
                avatar_slots_release(&cache, &stale->head);
                return err;
            }
            x = NULL;
        }
        /* A large avatar that changed: the engines answer while the builder catches up. */
        int large = stale && live_docs(stale) > REBUILD_IN_BACKGROUND;
        if (stale)
            avatar_slots_release(&cache, &stale->head);
        if (large && builder_request(avatar_id))
            return DP_ERR_TOO_LARGE;
        struct db_rows *r;
        struct db_val p[] = {DB_TEXT(avatar_id)};
        int err = db_query(db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", p, 1, &r);
        if (err)
            return err;
        int64_t count = db_rows_int(r, 0, 0);
        db_rows_free(r);
        /* A large avatar seen for the first time (after a start): the engines answer its first
         * searches in tens of milliseconds while the builder makes the index, where building it
         * here would hold this search for most of a second. */
        if (count > REBUILD_IN_BACKGROUND && count <= limit && builder_request(avatar_id))
            return DP_ERR_TOO_LARGE;
        int64_t t0 = time_now_ms();
        err = count > limit ? DP_ERR_TOO_LARGE : index_build(db, avatar_id, rev, &x);
        if (err == DP_ERR_TOO_LARGE)
            remember_too_large(avatar_id, rev);
        if (err)
            return err;
        DP_LOG(LOG_DEBUG, "[memory] indexed %d memories of avatar %s (%u words) in %lld ms", x->ndocs, avatar_id,
               x->nterms, (long long)(time_now_ms() - t0));
        avatar_slots_keep(&cache, &x->head);
    }
    *out = x;
    return DP_OK;
}

int text_index_search(struct db *db, const char *avatar_id, int64_t rev, const struct text_query *q, int window,
                      struct text_match **out, int *n)
{
    struct text_index *x;
    int err = acquire(db, avatar_id, rev, &x);
    if (err)
        return err;
    err = rank(x, q, window, out, n);
    avatar_slots_release(&cache, &x->head);
    return err;
}

int text_index_df(struct db *db, const char *avatar_id, int64_t rev, const struct text_query *q, int df[])
{
    struct text_index *x;
    int err = acquire(db, avatar_id, rev, &x);
    if (err)
        return err;
    struct text_query local;
    const struct text_query *kq = keyed_for(x, q, &local);
    for (int i = 0; i < kq->n; i++) {
        struct variant v;
        df[i] = find_variant(x, kq->key[i], kq->len[i], &v) ? (int)v.df : 0;
    }
    avatar_slots_release(&cache, &x->head);
    return DP_OK;
}

void text_index_reset(void)
{
    avatar_slots_reset(&cache);
}

int text_index_build_uncached(struct db *db, const char *avatar_id, int64_t rev, struct text_index **out)
{
    return index_build(db, avatar_id, rev, out);
}

int text_index_rank(const struct text_index *x, const struct text_query *q, int window, struct text_match **out, int *n)
{
    return rank(x, q, window, out, n);
}
