/* Listing and searching an avatar's memories.
 *
 * Search is hybrid. The text engine (SQLite FTS5 / PostgreSQL full text) picks up to a window of
 * candidates; they are ranked here, the same on both backends and with this avatar's statistics
 * only: memories holding more of the query's content words first, then BM25 (k1 1.2, b 0.75).
 * When an embedding provider is configured, the query's vector is compared with every vector
 * of the avatar (vectors.c) and the two rankings are fused by reciprocal rank fusion
 * (1/(60 + rank) summed over the lists a memory appears in). Finally each relevance is scaled:
 *
 *     score = relevance × (1 + Wi·(importance − 0.5)) × (1 + Wr·2^(−age_days / H))
 *
 * Wi (search-importance-weight), Wr (search-recency-weight) and H (search-recency-half-life)
 * are configuration; see memory_tune(). A memory enters the vector list only with a cosine
 * similarity of at least search-vector-min-similarity: every memory has some nearest neighbour,
 * and a search must be able to find nothing. Scores are "higher is better", comparable within one
 * result list. Highlights are made here (not by the engines: snippet()/ts_headline cost more
 * than the whole ranking when run over every candidate). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "brain/memory.h"
#include "brain/memory_embed.h"
#include "brain/memory_impl.h"
#include "brain/text_index.h"
#include "brain/vectors.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time_words.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "providers/embed.h"
#include "store/db.h"

#define RRF_K 60.0
#define HIGHLIGHT_WORDS 24

static struct memory_tuning tuning = {0.1, 0.0, 30.0, 0.3};

void memory_tune(const struct memory_tuning *t)
{
    tuning = *t;
}

/* The words of a query: up to MEMORY_QUERY_TERMS, stop words left out unless the query is
 * made of nothing else, each with a light stem ("planted" meets "planting", "trees" "tree"). */
struct qwords {
    int n;
    const unsigned char *s[MEMORY_QUERY_TERMS];
    size_t len[MEMORY_QUERY_TERMS];
    struct text_query keys;         /* the distinct word keys (text_word_key) */
    int key_of[MEMORY_QUERY_TERMS]; /* word i → its key */
};

/* Splits q (valid UTF-8) into words; keep_stop 0 leaves stop words, the words that frame a
 * question (text_is_question_frame: "what kind of music" is about music) and the month and day of
 * a date out (text_is_date_part: "What did Mel paint on 13 October?" asks what was said then, which
 * seldom says the date; a year stays, memories that occurred in it hold it). */
static void split_words(const char *q, int keep_stop, struct qwords *w)
{
    w->n = 0;
    w->keys.n = 0;
    w->keys.nalt = 0;
    w->keys.year = 0;
    const unsigned char *p = (const unsigned char *)q, *s, *prev = NULL;
    size_t prev_len = 0;
    while (*p && w->n < MEMORY_QUERY_TERMS) {
        size_t len = text_next_word(&p, &s);
        const unsigned char *peek = p, *next = NULL;
        size_t next_len = len ? text_next_word(&peek, &next) : 0;
        int date = len && text_is_date_part(prev, prev_len, s, len, next, next_len);
        prev = s;
        prev_len = len;
        /* Words are kept whole (a cut could split a character or miss the word); absurdly long
         * ones are dropped. */
        if (!len || len > MEMORY_TERM_MAX ||
            (!keep_stop && (date || text_is_stop(s, len) || text_is_question_frame(s, len))))
            continue;
        w->s[w->n] = s;
        w->len[w->n] = len;
        char key[TEXT_KEY_MAX];
        size_t kl = text_word_key(s, len, key);
        int k = 0;
        while (k < w->keys.n && !(w->keys.len[k] == kl && !memcmp(w->keys.key[k], key, kl)))
            k++;
        if (k == w->keys.n) {
            memcpy(w->keys.key[k], key, kl);
            w->keys.len[k] = kl;
            w->keys.word_len[k] = text_lower_word(s, len, w->keys.word[k], TEXT_KEY_MAX);
            w->keys.n++;
        }
        w->key_of[w->n] = k;
        w->n++;
        /* a year ("in 2019"): memories that occurred then are found by it too */
        if (len == 4 && s[0] >= '1' && s[0] <= '2' && strspn((const char *)s, "0123456789") >= 4 && !w->keys.year) {
            w->keys.year = atoi((const char *)s);
            w->keys.year_key = k;
        }
    }
}

/* Adds the keys related to each query key as alternatives (text_related_keys: WordNet synonyms,
 * broader and narrower words, at their weights). */
/* Appends the related keys rel[0..n) of query key k as its alternatives, skipping the query's
 * own keys (a word of the query is matched as itself) and alternatives of k already there. */
static void add_alts(struct text_query *q, int k, char rel[][TEXT_KEY_MAX], const size_t len[], const float weight[],
                     int n)
{
    for (int j = 0; j < n && q->nalt < TEXT_QUERY_ALTS; j++) {
        int dup = 0;
        for (int x = 0; x < q->n && !dup; x++)
            dup = q->len[x] == len[j] && !memcmp(q->key[x], rel[j], len[j]);
        for (int x = 0; x < q->nalt && !dup; x++)
            dup = q->alt_of[x] == k && q->alt_len[x] == len[j] && !memcmp(q->alt[x], rel[j], len[j]);
        if (dup)
            continue;
        memcpy(q->alt[q->nalt], rel[j], len[j]);
        q->alt_len[q->nalt] = len[j];
        q->alt_of[q->nalt] = (uint8_t)k;
        q->alt_weight[q->nalt++] = weight[j];
    }
}

static void add_related(struct text_query *q)
{
    q->nalt = 0;
    for (int i = 0; i < q->n && q->nalt < TEXT_QUERY_ALTS; i++) {
        char rel[TEXT_RELATED_MAX][TEXT_KEY_MAX];
        size_t len[TEXT_RELATED_MAX];
        float weight[TEXT_RELATED_MAX];
        int n = text_related_keys(q->key[i], q->len[i], rel, len, weight, TEXT_QUERY_ALTS - q->nalt);
        add_alts(q, i, rel, len, weight, n);
    }
}

/* Adds, for two words next to each other that are one WordNet entry ("passed away", "grew up"),
 * the keys related to the entry as alternatives of the first (text_phrase_keys): "passed away"
 * finds "died", as the recall brain judges it. */
static void add_phrases(struct qwords *w)
{
    struct text_query *q = &w->keys;
    for (int i = 0; i + 1 < w->n && q->nalt < TEXT_QUERY_ALTS; i++) {
        if (w->s[i] + w->len[i] + 1 != w->s[i + 1])
            continue;
        int k = w->key_of[i];
        char rel[TEXT_RELATED_MAX][TEXT_KEY_MAX];
        size_t len[TEXT_RELATED_MAX];
        float weight[TEXT_RELATED_MAX];
        int n = text_phrase_keys(q->key[k], q->len[k], w->s[i + 1], w->len[i + 1], rel, len, weight,
                                 TEXT_QUERY_ALTS - q->nalt);
        add_alts(q, k, rel, len, weight, n);
    }
}

/* A relative time in q ("last year", "two years ago", "last summer"), counted from today: the
 * year memories that occurred then are found by, as a year written out is (split_words), through
 * the first word of the expression that is a query word. */
static void relative_year(const char *q, struct qwords *w)
{
    time_t now = time(NULL);
    struct tm tm;
    size_t from, to;
    if (w->keys.year || !gmtime_r(&now, &tm))
        return;
    int year = text_relative_year(q, tm.tm_year + 1900, tm.tm_mon + 1, &from, &to);
    for (int i = 0; year && i < w->n; i++)
        if (w->s[i] >= (const unsigned char *)q + from && w->s[i] < (const unsigned char *)q + to) {
            w->keys.year = year;
            w->keys.year_key = w->key_of[i];
            return;
        }
}

static void query_words(const char *q, struct qwords *w)
{
    split_words(q, 0, w);
    relative_year(q, w);
    if (w->n == 0) {
        split_words(q, 1, w);
    } else {
        add_related(&w->keys);
        add_phrases(w);
    }
    w->keys.when = text_asks_when(q);
    w->keys.you = text_says_you(q);
}

static int build_expr(const struct qwords *w, int postgres, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < w->n; i++) {
        /* FTS5 takes each term quoted (no operators from the user); tsquery takes each term in
         * single quotes joined by | (only word characters are inside, so nothing breaks out). */
        if (at + w->len[i] + 8 >= cap)
            return i;
        if (i)
            at += (size_t)snprintf(out + at, cap - at, postgres ? " | " : " OR ");
        at += (size_t)snprintf(out + at, cap - at, postgres ? "'%.*s'" : "\"%.*s\"", (int)w->len[i],
                               (const char *)w->s[i]);
    }
    return w->n;
}

int memory_query_terms(const char *q, int postgres, char *out, size_t cap)
{
    out[0] = 0;
    if (!utf8_valid(q, strlen(q)))
        return 0;
    struct qwords w;
    query_words(q, &w);
    return build_expr(&w, postgres, out, cap);
}

/* Which query key (index) the text word [t, t+n) has, or -1: words meet when their keys (lemmas)
 * are equal, as in the text index; with related set, a related key counts as its query key (so
 * that a highlight shows why a memory was found: "movie" marks "film"). */
static int match_key(const struct qwords *w, const unsigned char *t, size_t n, int related)
{
    char key[TEXT_KEY_MAX];
    size_t kl = text_word_key(t, n, key);
    for (int i = 0; i < w->keys.n; i++)
        if (w->keys.len[i] == kl && !memcmp(w->keys.key[i], key, kl))
            return i;
    for (int i = 0; related && i < w->keys.nalt; i++)
        if (w->keys.alt_len[i] == kl && !memcmp(w->keys.alt[i], key, kl))
            return w->keys.alt_of[i];
    return -1;
}

static int match_word(const struct qwords *w, const unsigned char *t, size_t n)
{
    return match_key(w, t, n, 0);
}

/* For each query word, its occurrences in text; and text's length in words. */
static void term_counts(const struct qwords *w, const char *text, int tf[MEMORY_QUERY_TERMS], int *doclen)
{
    memset(tf, 0, sizeof(int) * MEMORY_QUERY_TERMS);
    *doclen = 0;
    const unsigned char *t = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&t, &s));) {
        (*doclen)++;
        int m = match_word(w, s, len);
        if (m >= 0)
            tf[m]++;
    }
}

/* A snippet of text: up to HIGHLIGHT_WORDS words around the first stretch richest in query
 * words, each matching word between MEMORY_MARK_OPEN/CLOSE, "…" where text was cut. */
static char *highlight(const struct qwords *w, const char *text)
{
    enum { MAXW = 4096 };
    size_t nw = 0;
    struct word {
        const char *s, *e;
        int m;
    } *words = malloc(MAXW * sizeof *words);
    if (!words)
        return NULL;
    const unsigned char *t = (const unsigned char *)text, *s;
    for (size_t len; nw < MAXW && (len = text_next_word(&t, &s)); nw++) {
        words[nw].s = (const char *)s;
        words[nw].e = (const char *)t;
        words[nw].m = match_key(w, s, len, 1) >= 0;
    }
    /* The window of HIGHLIGHT_WORDS words with the most matches (the first such). */
    size_t best = 0, start = 0;
    int have = 0, most = -1;
    for (size_t i = 0; i < nw; i++) {
        have += words[i].m;
        if (i >= HIGHLIGHT_WORDS)
            have -= words[i - HIGHLIGHT_WORDS].m;
        size_t from = i + 1 >= HIGHLIGHT_WORDS ? i + 1 - HIGHLIGHT_WORDS : 0;
        if (have > most) {
            most = have;
            best = from;
        }
    }
    /* Start a few words before the first match of the window, for context. */
    for (start = best; start < nw && start < best + HIGHLIGHT_WORDS && !words[start].m; start++)
        ;
    start = start >= best + 3 ? start - 3 : best;
    if (start + HIGHLIGHT_WORDS > nw)
        start = nw > HIGHLIGHT_WORDS ? nw - HIGHLIGHT_WORDS : 0;
    size_t end = start + HIGHLIGHT_WORDS < nw ? start + HIGHLIGHT_WORDS : nw;
    size_t cap = strlen(text) + 8 * HIGHLIGHT_WORDS + 16;
    char *out = malloc(cap), *o = out;
    if (!out) {
        free(words);
        return NULL;
    }
    const char *from = start == 0 ? text : words[start].s;
    if (start > 0)
        o += sprintf(o, "\u2026");
    for (size_t i = start; i < end; i++) {
        memcpy(o, from, (size_t)(words[i].s - from)); /* the separator before the word */
        o += words[i].s - from;
        if (words[i].m)
            o += sprintf(o, MEMORY_MARK_OPEN);
        memcpy(o, words[i].s, (size_t)(words[i].e - words[i].s));
        o += words[i].e - words[i].s;
        if (words[i].m)
            o += sprintf(o, MEMORY_MARK_CLOSE);
        from = words[i].e;
    }
    if (end < nw || nw == MAXW)
        o += sprintf(o, "\u2026");
    else {
        size_t rest = strlen(from);
        memcpy(o, from, rest); /* trailing punctuation */
        o += rest;
    }
    *o = 0;
    free(words);
    return out;
}

char *memory_highlight(const char *q, const char *text)
{
    struct qwords w;
    if (!utf8_valid(q, strlen(q)) || !utf8_valid(text, strlen(text)))
        return NULL;
    query_words(q, &w);
    return highlight(&w, text);
}

static uint32_t id_hash(const char *id)
{
    return hash_fnv1a(id, strlen(id));
}

/* How many memories the avatar has, cached per revision (a COUNT over 100k rows would cost more
 * than the whole search). */
#define COUNT_SLOTS 64
static struct {
    char avatar[ID_LEN];
    int64_t rev, count;
} counts[COUNT_SLOTS];
static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t memory_count(struct db *db, const char *avatar_id, int64_t rev)
{
    int slot = (int)(id_hash(avatar_id) % COUNT_SLOTS);
    int64_t n = -1;
    pthread_mutex_lock(&counts_lock);
    if (!strcmp(counts[slot].avatar, avatar_id) && counts[slot].rev == rev)
        n = counts[slot].count;
    pthread_mutex_unlock(&counts_lock);
    if (n >= 0)
        return n;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    if (db_query(db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", p, 1, &r))
        return 0;
    n = db_rows_int(r, 0, 0);
    db_rows_free(r);
    pthread_mutex_lock(&counts_lock);
    snprintf(counts[slot].avatar, ID_LEN, "%s", avatar_id);
    counts[slot].rev = rev;
    counts[slot].count = n;
    pthread_mutex_unlock(&counts_lock);
    return n;
}

/* One search result before it is fetched: from the text list, the vector list or both. */
struct hit {
    char id[ID_LEN];
    int text_rank, vec_rank; /* 1-based; 0 = not in that list */
    double words;            /* query words it holds (text_match.words) */
    double bm25, relevance, score, importance;
    int64_t created_ms;
};

static int cmp_text(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->words != y->words)
        return x->words < y->words ? 1 : -1;
    if (x->bm25 != y->bm25)
        return x->bm25 < y->bm25 ? 1 : -1;
    return x->text_rank - y->text_rank; /* the engine's order */
}

static int cmp_score(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->id, y->id);
}

/* Text candidates from the avatar's in-memory text index; DP_ERR_TOO_LARGE when it has none. */
static int index_candidates(struct db *db, const char *avatar_id, const struct qwords *w, int64_t rev, long window,
                            struct hit **hits, int *n)
{
    struct text_match *m;
    int err = text_index_search(db, avatar_id, rev, &w->keys, (int)window, &m, n);
    if (err)
        return err;
    struct hit *h = calloc((size_t)*n + 1, sizeof *h);
    if (!h) {
        free(m);
        return DP_ERR_NOMEM;
    }
    for (int i = 0; i < *n; i++) {
        memcpy(h[i].id, m[i].id, ID_LEN);
        h[i].text_rank = i + 1;
        h[i].words = m[i].words;
        h[i].bm25 = m[i].bm25;
        h[i].importance = m[i].importance;
        h[i].created_ms = m[i].created_ms;
    }
    free(m);
    *hits = h;
    return DP_OK;
}

/* Text candidates from the engine (FTS5 / PostgreSQL full text), ranked here the same way as the
 * index ranks (text_rank set, best first) into *hits / *n. The engine picks them by its own
 * score, so a very common query may leave some out that the index would rank in. */
static int engine_candidates(struct db *db, const char *avatar_id, const struct qwords *w, int64_t rev, long window,
                             struct hit **hits, int *n)
{
    int pg = db_dialect(db) == DB_POSTGRES;
    char expr[MEMORY_QUERY_MAX * 2 + 256];
    build_expr(w, pg, expr, sizeof expr);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(expr), DB_TEXT(avatar_id), DB_INT(window)};
    int err = pg ? db_query(db,
                            "SELECT m.id, m.text, m.importance, m.created_at FROM memories m, "
                            "to_tsquery('english', ?) q WHERE m.avatar_id = ? AND m.tsv @@ q "
                            "ORDER BY ts_rank_cd(m.tsv, q) DESC, m.id LIMIT ?",
                            p, 3, &r)
                 : db_query(db,
                            "SELECT m.id, m.text, m.importance, m.created_at FROM memories_fts JOIN memories m "
                            "ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND m.avatar_id = ? "
                            "ORDER BY bm25(memories_fts), m.id LIMIT ?",
                            p, 3, &r);
    if (err)
        return err;
    struct hit *h = calloc((size_t)r->nrows + 1, sizeof *h);
    int(*tf)[MEMORY_QUERY_TERMS] = calloc((size_t)r->nrows + 1, sizeof *tf);
    int *dl = calloc((size_t)r->nrows + 1, sizeof *dl);
    if (!h || !tf || !dl) {
        free(h);
        free(tf);
        free(dl);
        db_rows_free(r);
        return DP_ERR_NOMEM;
    }
    int df[MEMORY_QUERY_TERMS] = {0};
    double total_len = 0;
    for (int i = 0; i < r->nrows; i++) {
        term_counts(w, db_rows_text(r, i, 1), tf[i], &dl[i]);
        total_len += dl[i];
        for (int t = 0; t < w->keys.n; t++)
            df[t] += tf[i][t] > 0;
    }
    double ndocs = (double)memory_count(db, avatar_id, rev);
    if (ndocs < r->nrows)
        ndocs = r->nrows;
    double avgdl = r->nrows && total_len > 0 ? total_len / r->nrows : 1;
    for (int i = 0; i < r->nrows; i++) {
        snprintf(h[i].id, ID_LEN, "%s", db_rows_text(r, i, 0));
        h[i].text_rank = i + 1;
        h[i].importance = db_rows_real(r, i, 2);
        time_parse_rfc3339(db_rows_text(r, i, 3), &h[i].created_ms);
        for (int t = 0; t < w->keys.n; t++) {
            if (!tf[i][t])
                continue;
            h[i].words++;
            double idf = log(1.0 + (ndocs - df[t] + 0.5) / (df[t] + 0.5));
            h[i].bm25 += idf * tf[i][t] * 2.2 / (tf[i][t] + 1.2 * (0.25 + 0.75 * dl[i] / avgdl));
        }
    }
    free(tf);
    free(dl);
    *n = r->nrows;
    db_rows_free(r);
    qsort(h, (size_t)*n, sizeof *h, cmp_text);
    for (int i = 0; i < *n; i++)
        h[i].text_rank = i + 1;
    *hits = h;
    return DP_OK;
}

/* Adds the vector ranking of q to hits (room for *n + k): memories already there get their
 * vector rank, others are appended. No embedder, or a failing one: text only. */
static void add_vector_hits(struct db *db, const char *avatar_id, const char *q, int64_t rev, int k, struct hit *hits,
                            int *n)
{
    struct embedder *e = embed_current();
    if (!e)
        return;
    float *qv = NULL;
    int dims = 0;
    char why[200];
    if (embed_one(e, q, &qv, &dims, why, sizeof why)) {
        DP_LOG(LOG_WARN, "[memory] search falls back to text only: %s", why);
        return;
    }
    struct vec_hit *vh = malloc((size_t)k * sizeof *vh);
    int nv = 0, missing = 0;
    if (!vh || vectors_search(db, avatar_id, rev, e->model, qv, dims, k, vh, &nv, &missing))
        nv = 0;
    free(qv);
    if (missing)
        memory_embed_backfill(db, avatar_id, 0);
    /* A small open-addressing table from id to hit (at most 2 × window entries). */
    enum { TABLE = 4096 };
    static _Thread_local int table[TABLE];
    memset(table, -1, sizeof table);
    for (int i = 0; i < *n; i++) {
        unsigned s = id_hash(hits[i].id) % TABLE;
        while (table[s] >= 0)
            s = (s + 1) % TABLE;
        table[s] = i;
    }
    /* The scan ranks every memory; only those similar enough take part (best first, so the
     * first one below the bar ends the list). */
    for (int j = 0; j < nv && vh[j].score >= tuning.vector_min_similarity; j++) {
        unsigned s = id_hash(vh[j].id) % TABLE;
        while (table[s] >= 0 && strcmp(hits[table[s]].id, vh[j].id))
            s = (s + 1) % TABLE;
        if (table[s] < 0) {
            struct hit *h = &hits[*n];
            memset(h, 0, sizeof *h);
            memcpy(h->id, vh[j].id, ID_LEN);
            h->importance = vh[j].importance;
            h->created_ms = vh[j].created_ms;
            table[s] = (*n)++;
        }
        hits[table[s]].vec_rank = j + 1;
    }
    free(vh);
}

static void score_hits(struct hit *hits, int n, int fused)
{
    double now = (double)time_now_ms();
    for (int i = 0; i < n; i++) {
        struct hit *h = &hits[i];
        if (fused)
            h->relevance =
                (h->text_rank ? 1.0 / (RRF_K + h->text_rank) : 0) + (h->vec_rank ? 1.0 / (RRF_K + h->vec_rank) : 0);
        else /* words held first, then BM25 squashed into [0, 1): the text order, as a number */
            h->relevance = h->words + h->bm25 / (1.0 + h->bm25);
        double age_days = (now - (double)h->created_ms) / 86400000.0;
        double fresh = tuning.recency_half_life_days > 0 && age_days >= 0
                           ? pow(2.0, -age_days / tuning.recency_half_life_days)
                           : 0;
        h->score =
            h->relevance * (1 + tuning.importance_weight * (h->importance - 0.5)) * (1 + tuning.recency_weight * fresh);
    }
    qsort(hits, (size_t)n, sizeof *hits, cmp_score);
}

/* The full rows of hits[from..to) as JSON items, in that order, with score and highlight. */
static int fetch_page(struct db *db, const char *avatar_id, const struct qwords *w, const struct hit *hits, int from,
                      int to, json_t *items)
{
    if (from >= to)
        return DP_OK;
    char sql[1024 + 4 * MEMORY_SEARCH_WINDOW];
    int at = snprintf(sql, sizeof sql, "SELECT " MEMORY_COLUMNS " FROM memories m WHERE m.avatar_id = ? AND m.id IN (");
    struct db_val *p = calloc((size_t)(to - from) + 1, sizeof *p);
    if (!p)
        return DP_ERR_NOMEM;
    p[0] = DB_TEXT(avatar_id);
    for (int i = from; i < to; i++) {
        at += snprintf(sql + at, sizeof sql - (size_t)at, i > from ? ",?" : "?");
        p[i - from + 1] = DB_TEXT(hits[i].id);
    }
    snprintf(sql + at, sizeof sql - (size_t)at, ")");
    struct db_rows *r;
    int err = db_query(db, sql, p, to - from + 1, &r);
    free(p);
    if (err)
        return err;
    for (int i = from; i < to; i++)
        for (int row = 0; row < r->nrows; row++) {
            if (strcmp(db_rows_text(r, row, 0), hits[i].id) != 0)
                continue;
            json_t *m = memory_from_row(r, row);
            char *hl = highlight(w, db_rows_text(r, row, 2));
            json_object_set_new(m, "score", json_real(hits[i].score));
            json_object_set_new(m, "highlight", json_string(hl ? hl : ""));
            free(hl);
            json_array_append_new(items, m);
            break;
        }
    db_rows_free(r);
    return DP_OK;
}

static int list_plain(struct db *db, const char *avatar_id, const char *cursor, long limit, json_t **items,
                      char **next_cursor)
{
    char sql[384];
    snprintf(sql, sizeof sql, "SELECT " MEMORY_COLUMNS " FROM memories m WHERE m.avatar_id = ?%s ORDER BY m.id LIMIT ?",
             cursor ? " AND m.id > ?" : "");
    struct db_val p[3] = {DB_TEXT(avatar_id)};
    int np = 1;
    if (cursor)
        p[np++] = DB_TEXT(cursor);
    p[np++] = DB_INT(limit);
    struct db_rows *r;
    int err = db_query(db, sql, p, np, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, memory_from_row(r, i));
    if (r->nrows == limit)
        *next_cursor = strdup(db_rows_text(r, r->nrows - 1, 0));
    db_rows_free(r);
    return DP_OK;
}

int memory_total(struct db *db, const char *avatar_id, int64_t *n)
{
    int64_t rev = 0;
    int err = memory_avatar_rev(db, avatar_id, &rev);
    if (!err)
        *n = memory_count(db, avatar_id, rev);
    return err;
}

int memory_key_df(struct db *db, const char *avatar_id, const char *const *keys, int n, int df[])
{
    struct text_query q = {0};
    for (int i = 0; i < n && i < MEMORY_QUERY_TERMS; i++, q.n++) {
        size_t len = strnlen(keys[i], TEXT_KEY_MAX);
        memcpy(q.key[i], keys[i], len);
        q.len[i] = len;
    }
    int64_t rev = 0;
    int err = memory_avatar_rev(db, avatar_id, &rev);
    return err ? err : text_index_df(db, avatar_id, rev, &q, df);
}

int memory_query_keys(const char *q, char keys[][TEXT_KEY_MAX + 1])
{
    struct qwords w;
    query_words(q, &w);
    for (int i = 0; i < w.keys.n; i++) {
        memcpy(keys[i], w.keys.key[i], w.keys.len[i]);
        keys[i][w.keys.len[i]] = 0;
    }
    return w.keys.n;
}

int memory_list(struct db *db, const char *avatar_id, const char *q, const char *cursor, long limit, json_t **items,
                char **next_cursor, char *msg, size_t msglen)
{
    *next_cursor = NULL;
    if (!q)
        return list_plain(db, avatar_id, cursor, limit, items, next_cursor);
    if (strlen(q) > MEMORY_QUERY_MAX) {
        snprintf(msg, msglen, "q is longer than %d bytes", MEMORY_QUERY_MAX);
        return DP_ERR_INVALID;
    }
    if (!utf8_valid(q, strlen(q))) {
        snprintf(msg, msglen, "q is not valid UTF-8");
        return DP_ERR_INVALID;
    }
    struct qwords w;
    query_words(q, &w);
    if (w.n == 0) {
        snprintf(msg, msglen, "q has no word to search for");
        return DP_ERR_INVALID;
    }
    /* Search pages by offset: the cursor is "o<offset>". */
    long offset = 0;
    if (cursor) {
        char *end;
        offset = cursor[0] == 'o' ? strtol(cursor + 1, &end, 10) : -1;
        if (cursor[0] != 'o' || !cursor[1] || *end || offset < 0 || offset > MEMORY_SEARCH_WINDOW) {
            snprintf(msg, msglen, "cursor is not valid");
            return DP_ERR_INVALID;
        }
    }
    long window = offset + limit + 100;
    if (window > MEMORY_SEARCH_WINDOW)
        window = MEMORY_SEARCH_WINDOW;
    int64_t rev = 0;
    struct hit *hits = NULL;
    int n = 0;
    int err = memory_avatar_rev(db, avatar_id, &rev);
    if (!err)
        err = index_candidates(db, avatar_id, &w, rev, window, &hits, &n);
    if (err == DP_ERR_TOO_LARGE)
        err = engine_candidates(db, avatar_id, &w, rev, window, &hits, &n);
    if (err)
        return err;
    int fused = 0;
    if (embed_current()) {
        struct hit *more = realloc(hits, ((size_t)n + (size_t)window + 1) * sizeof *hits);
        if (!more) {
            free(hits);
            return DP_ERR_NOMEM;
        }
        hits = more;
        add_vector_hits(db, avatar_id, q, rev, (int)window, hits, &n);
        for (int i = 0; i < n && !fused; i++)
            fused = hits[i].vec_rank > 0;
    }
    score_hits(hits, n, fused);
    *items = json_array();
    long to = offset + limit < n ? offset + limit : n;
    err = fetch_page(db, avatar_id, &w, hits, (int)(offset < n ? offset : n), (int)to, *items);
    if (!err && offset + limit < n) {
        char next[32];
        snprintf(next, sizeof next, "o%ld", offset + limit);
        *next_cursor = strdup(next);
    }
    free(hits);
    if (err)
        json_decref(*items);
    return err;
}
