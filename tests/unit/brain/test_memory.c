/* Tests of src/brain/memory.c: the search-expression builder (FTS5 and tsquery syntax), and the
 * memory store (create, list, search, update with versions, delete) on a temporary SQLite
 * database — and on PostgreSQL too when DOPPEL_TEST_PG_URL is set (a fresh schema per test). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brain/memory.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* ---- memory_query_terms ------------------------------------------------------------------- */

static int is_word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Checks that out is exactly n terms in the given syntax and nothing else: FTS5 `"t" OR "t"`,
 * tsquery `t | t`, each term made of letters, digits and non-ASCII bytes only. */
static void check_shape(const char *out, int n, int pg)
{
    const char *sep = pg ? " | " : " OR ";
    size_t seplen = strlen(sep);
    const char *p = out;
    int terms = 0;
    if (n == 0) {
        CHECK_EQ_STR(out, "");
        return;
    }
    /* Each term is quoted: "…" for FTS5, '…' for tsquery. */
    const char quote = pg ? '\'' : '"';
    for (;;) {
        CHECK(*p == quote);
        p++;
        const char *s = p;
        while (*p && is_word_byte((unsigned char)*p))
            p++;
        CHECK(p > s); /* a term is never empty */
        CHECK(*p == quote);
        p++;
        terms++;
        if (!*p)
            break;
        CHECK(strncmp(p, sep, seplen) == 0);
        p += seplen;
    }
    CHECK_EQ_INT(terms, n);
}

static int terms(const char *q, int pg, char *out, size_t cap)
{
    int n = memory_query_terms(q, pg, out, cap);
    CHECK(n >= 0 && n <= MEMORY_QUERY_TERMS);
    CHECK(strlen(out) < cap);
    check_shape(out, n, pg);
    return n;
}

/* 1 when s is well-formed UTF-8 (no truncated or overlong sequences, no surrogates). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

TEST(memory_query_terms_fts5_syntax)
{
    char out[512];
    CHECK_EQ_INT(terms("hello world", 0, out, sizeof out), 2);
    CHECK_EQ_STR(out, "\"hello\" OR \"world\"");
    CHECK_EQ_INT(terms("  Hello,   WORLD!  ", 0, out, sizeof out), 2);
    CHECK_EQ_STR(out, "\"Hello\" OR \"WORLD\"");
    CHECK_EQ_INT(terms("planted", 0, out, sizeof out), 1);
    CHECK_EQ_STR(out, "\"planted\"");
    /* Stop words are left out ("in", "or"), unless the query has nothing else. */
    CHECK_EQ_INT(terms("in 1962, 3 times", 0, out, sizeof out), 3);
    CHECK_EQ_STR(out, "\"1962\" OR \"3\" OR \"times\"");
    CHECK_EQ_INT(terms("Where did you grow up", 0, out, sizeof out), 2);
    CHECK_EQ_STR(out, "\"grow\" OR \"up\"");
    CHECK_EQ_INT(terms("who are you", 0, out, sizeof out), 3);
    CHECK_EQ_STR(out, "\"who\" OR \"are\" OR \"you\"");
    CHECK_EQ_INT(terms("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(terms(" \t\n!?.,;:-_()[]{}\"'*^+~", 0, out, sizeof out), 0);
}

TEST(memory_query_terms_tsquery_syntax)
{
    char out[512];
    CHECK_EQ_INT(terms("hello world", 1, out, sizeof out), 2);
    CHECK_EQ_STR(out, "'hello' | 'world'");
    CHECK_EQ_INT(terms("  Hello,   WORLD!  ", 1, out, sizeof out), 2);
    CHECK_EQ_STR(out, "'Hello' | 'WORLD'");
    CHECK_EQ_INT(terms("planted", 1, out, sizeof out), 1);
    CHECK_EQ_STR(out, "'planted'");
    CHECK_EQ_INT(terms("", 1, out, sizeof out), 0);
    CHECK_EQ_INT(terms("&|!<->():*'\\", 1, out, sizeof out), 0);
}

TEST(memory_query_terms_operators_never_pass_through)
{
    static const char *const hostile[] = {
        "\") OR (\" NEAR * -",
        "'; DROP TABLE memories; --",
        "tree\" OR \"garden",
        "NEAR(tree garden, 2)",
        "text:garden",
        "{text} : garden",
        "^tree +bush -rose garden*",
        "tree & !garden | (bush <-> rose)",
        "tree:* & garden:A",
        "'tree' & 'garden'",
        "a\\\"b",
        "x' OR '1'='1",
        "\"\"\"\"",
        "()()",
        "%_?$1",
        NULL,
    };
    char out[512];
    for (int pg = 0; pg <= 1; pg++)
        for (const char *const *q = hostile; *q; q++) {
            int n = terms(*q, pg, out, sizeof out); /* the shape check refuses any operator */
            (void)n;
            for (const char *c = "()*:^+-&!|<>'\\{}$%?_;="; *c; c++)
                /* tsquery output holds its own | and the quotes around each term; nothing else. */
                CHECK(strchr(out, *c) == NULL || (pg && (*c == '|' || *c == '\'')));
        }
    CHECK_EQ_INT(terms("\") OR (\" NEAR * -", 0, out, sizeof out), 1); /* "or": a stop word */
    CHECK_EQ_STR(out, "\"NEAR\"");
    CHECK_EQ_INT(terms("\") OR (\" AND *", 0, out, sizeof out), 2); /* only stop words: kept, quoted */
    CHECK_EQ_STR(out, "\"OR\" OR \"AND\"");
    CHECK_EQ_INT(terms("\") OR (\" NEAR * -", 1, out, sizeof out), 1);
    CHECK_EQ_STR(out, "'NEAR'");
    CHECK_EQ_INT(terms("'; DROP TABLE memories; --", 0, out, sizeof out), 3);
    CHECK_EQ_STR(out, "\"DROP\" OR \"TABLE\" OR \"memories\"");
    CHECK_EQ_INT(terms("tree & !garden | (bush <-> rose)", 1, out, sizeof out), 4);
    CHECK_EQ_STR(out, "'tree' | 'garden' | 'bush' | 'rose'");
    CHECK_EQ_INT(terms("tree:* & garden:AB", 1, out, sizeof out), 3);
    CHECK_EQ_STR(out, "'tree' | 'garden' | 'AB'");
}

TEST(memory_query_terms_cap_32_terms)
{
    char q[1024] = "", out[2048];
    for (int i = 0; i < 40; i++) {
        char w[16];
        snprintf(w, sizeof w, "%sw%d", i ? " " : "", i);
        strcat(q, w);
    }
    for (int pg = 0; pg <= 1; pg++) {
        CHECK_EQ_INT(terms(q, pg, out, sizeof out), MEMORY_QUERY_TERMS);
        CHECK(strstr(out, pg ? "w31" : "\"w31\"") != NULL);
        CHECK(strstr(out, "w32") == NULL);
        CHECK(strstr(out, "w39") == NULL);
    }
    /* Words made of punctuation do not count towards the cap. */
    char q2[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(q2, "-- ** ");
    strcat(q2, "last");
    CHECK_EQ_INT(terms(q2, 0, out, sizeof out), 1);
    CHECK_EQ_STR(out, "\"last\"");
}

TEST(memory_query_terms_keep_non_ascii_words)
{
    char out[512];
    CHECK_EQ_INT(terms("Müller Straße école", 0, out, sizeof out), 3);
    CHECK_EQ_STR(out, "\"Müller\" OR \"Straße\" OR \"école\"");
    CHECK_EQ_INT(terms("Müller, Straße; école!", 1, out, sizeof out), 3);
    CHECK_EQ_STR(out, "'Müller' | 'Straße' | 'école'");
    CHECK_EQ_INT(terms("東京タワー Ελληνικά", 0, out, sizeof out), 2);
    CHECK_EQ_STR(out, "\"東京タワー\" OR \"Ελληνικά\"");
    CHECK(utf8_valid(out));
}

TEST(memory_query_terms_small_buffers_never_overflow)
{
    char buf[64];
    for (size_t cap = 1; cap < 40; cap++)
        for (int pg = 0; pg <= 1; pg++) {
            memset(buf, 'Z', sizeof buf);
            int n = memory_query_terms("alpha beta gamma delta", pg, buf, cap);
            CHECK(n >= 0 && n <= 4);
            CHECK(strlen(buf) < cap);
            for (size_t i = cap; i < sizeof buf; i++)
                CHECK(buf[i] == 'Z');
            check_shape(buf, n, pg);
        }
    /* A query at the length limit fits the buffer memory_list uses. */
    char q[MEMORY_QUERY_MAX + 1], out[MEMORY_QUERY_MAX * 2 + 256];
    for (int i = 0; i < MEMORY_QUERY_MAX; i++)
        q[i] = i % 2 ? ' ' : 'a';
    q[MEMORY_QUERY_MAX] = 0;
    CHECK_EQ_INT(terms(q, 0, out, sizeof out), MEMORY_QUERY_TERMS);
}

/* A long word is cut (64 bytes) — never in the middle of a UTF-8 character: PostgreSQL refuses
 * invalid UTF-8 in to_tsquery (the search then fails with a database error). */
TEST(memory_query_terms_long_words_stay_valid_utf8)
{
    char q[256] = "", out[512];
    for (int i = 0; i < 15; i++)
        strcat(q, "東京"); /* 90 bytes; 64 falls inside the 22nd character */
    for (int pg = 0; pg <= 1; pg++) {
        CHECK_EQ_INT(terms(q, pg, out, sizeof out), 1);
        CHECK(utf8_valid(out));
    }
    CHECK_EQ_INT(terms("ääääääääääääääääääääääääääääääääääääää", 1, out, sizeof out), 1);
    CHECK(utf8_valid(out));
}

/* Non-ASCII spaces separate words like an ASCII space: "lantern<U+3000>harbour" is two terms
 * (a U+3000 inside a tsquery operand is a tsquery syntax error on PostgreSQL). */
TEST(memory_query_terms_unicode_spaces_separate_words)
{
    static const char *const spaced[] = {"lantern\xc2\xa0harbour", "lantern\xe3\x80\x80harbour",
                                         "lantern\xe2\x80\x83harbour", NULL};
    char out[256];
    for (const char *const *q = spaced; *q; q++) {
        CHECK_EQ_INT(terms(*q, 1, out, sizeof out), 2);
        CHECK_EQ_STR(out, "'lantern' | 'harbour'");
        CHECK_EQ_INT(terms(*q, 0, out, sizeof out), 2);
        CHECK_EQ_STR(out, "\"lantern\" OR \"harbour\"");
    }
}

/* ---- the store ------------------------------------------------------------------------------ */

static void seed(struct db *db)
{
    log_min_level = LOG_WARN; /* no "applied migration" lines */
    OK(db_exec_script(
        db, "INSERT INTO users (id, org_id, email, display_name, password_hash, role, created_at, updated_at) "
            "VALUES ('u1', 'default', 'u1@example.test', 'U', 'x', 'member', '2020-01-01T00:00:00Z', "
            "'2020-01-01T00:00:00Z');"
            "INSERT INTO avatars (id, owner_id, org_id, name, kind, visibility, brain, created_at, updated_at) "
            "VALUES ('a1', 'u1', 'default', 'A', 'self', 'private', 'recall', '2020-01-01T00:00:00Z', "
            "'2020-01-01T00:00:00Z'), ('a2', 'u1', 'default', 'B', 'self', 'private', 'recall', "
            "'2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"));
}

/* A migrated, seeded (user u1, avatars a1 and a2) database of the backend ("sqlite" | "pg"). */
static struct db *open_seeded(const char *backend)
{
    struct db *db = NULL;
    OK(db_open(&db, test_db_url(backend)));
    CHECK_EQ_INT(db_dialect(db), !strcmp(backend, "pg") ? DB_POSTGRES : DB_SQLITE);
    seed(db);
    return db;
}

static struct db *open_sqlite(void)
{
    return open_seeded("sqlite");
}

/* The same on PostgreSQL, in a fresh schema dropped at exit; skips without DOPPEL_TEST_PG_URL. */
static struct db *open_pg(void)
{
    return open_seeded("pg");
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static json_t *create(struct db *db, const char *avatar, const char *text)
{
    json_t *m = NULL;
    OK(memory_create(db, avatar, text, "fact", 0.5, NULL, &m));
    CHECK(m != NULL);
    CHECK_EQ_STR(jstr(m, "text"), text);
    return m;
}

/* Searches (or lists, q NULL); returns the items (caller decrefs), *next set (caller frees). */
static json_t *list(struct db *db, const char *avatar, const char *q, const char *cursor, long limit, char **next)
{
    json_t *items = NULL;
    char msg[128] = "", *nx = NULL;
    int lerr = memory_list(db, avatar, q, cursor, limit, &items, &nx, msg, sizeof msg);
    if (lerr)
        fprintf(stderr, "    memory_list(%s, %s): %s\n", q ? q : "-", cursor ? cursor : "-", msg);
    OK(lerr);
    CHECK(json_is_array(items));
    if (next)
        *next = nx;
    else
        free(nx);
    return items;
}

/* 1 when the items hold a memory with this id. */
static int has_id(const json_t *items, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach (items, i, m)
        if (!strcmp(jstr(m, "id"), id))
            return 1;
    return 0;
}

static int count_of(struct db *db, const char *sql, const char *arg)
{
    struct db_rows *r = NULL;
    struct db_val p[] = {DB_TEXT(arg)};
    OK(db_query(db, sql, p, arg ? 1 : 0, &r));
    int n = (int)db_rows_int(r, 0, 0);
    db_rows_free(r);
    return n;
}

static void check_create_get_list(struct db *db)
{
    json_t *m = NULL;
    OK(memory_create(db, "a1", "Grandpa kept pigeons", "utterance", 0.75, "Ann", &m));
    CHECK_EQ_STR(jstr(m, "kind"), "utterance");
    CHECK_EQ_STR(jstr(m, "speaker"), "Ann");
    CHECK(json_real_value(json_object_get(m, "importance")) == 0.75);
    CHECK_EQ_INT(jint(m, "version"), 1);
    CHECK(json_is_null(json_object_get(m, "source")));
    CHECK_EQ_STR(jstr(m, "created_at"), jstr(m, "updated_at"));
    char id0[64];
    snprintf(id0, sizeof id0, "%s", jstr(m, "id"));
    json_decref(m);

    json_t *g = NULL;
    OK(memory_get(db, "a1", id0, &g));
    CHECK_EQ_STR(jstr(g, "text"), "Grandpa kept pigeons");
    CHECK(json_object_get(g, "score") == NULL && json_object_get(g, "highlight") == NULL);
    json_decref(g);
    g = NULL;
    CHECK_EQ_INT(memory_get(db, "a2", id0, &g), DP_ERR_NOT_FOUND); /* another avatar's */
    CHECK_EQ_INT(memory_get(db, "a1", "not-an-id", &g), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_get(db, "a1", "01a20000-0000-7000-8000-000000000000", &g), DP_ERR_NOT_FOUND);
    CHECK(g == NULL);

    for (int i = 0; i < 4; i++) {
        char t[64];
        snprintf(t, sizeof t, "listing memory %d", i);
        json_decref(create(db, "a1", t));
    }
    json_t *other = create(db, "a2", "the other avatar's memory");

    /* Pages of 2 through 5: every memory once, in id order; the last page has no cursor. */
    char *cursor = NULL, prev[64] = "";
    int seen = 0, pages = 0;
    do {
        char *next = NULL;
        json_t *items = list(db, "a1", NULL, cursor, 2, &next);
        size_t i;
        json_t *it;
        json_array_foreach (items, i, it) {
            CHECK(strcmp(jstr(it, "id"), prev) > 0);
            snprintf(prev, sizeof prev, "%s", jstr(it, "id"));
            CHECK(strcmp(jstr(it, "id"), jstr(other, "id")) != 0);
            seen++;
        }
        pages++;
        json_decref(items);
        free(cursor);
        cursor = next;
    } while (cursor && pages < 10);
    CHECK_EQ_INT(seen, 5);
    CHECK_EQ_INT(pages, 3);

    json_t *all2 = list(db, "a2", NULL, NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(all2), 1);
    CHECK(has_id(all2, jstr(other, "id")));
    json_decref(all2);
    json_decref(other);
}

static void check_search(struct db *db)
{
    json_t *t1 = create(db, "a1", "We planted a tree in the garden");
    json_t *t2 = create(db, "a1", "Planting trees is fun");
    json_t *t3 = create(db, "a1", "The orchard had roses");
    json_t *o = create(db, "a2", "Planting season in the other avatar");

    json_t *items = list(db, "a1", "planted", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 2);
    CHECK(has_id(items, jstr(t1, "id")) && has_id(items, jstr(t2, "id")));
    CHECK(!has_id(items, jstr(o, "id")));
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        CHECK(json_is_number(json_object_get(it, "score")));
        const char *h = jstr(it, "highlight");
        CHECK(h && strstr(h, MEMORY_MARK_OPEN) && strstr(h, MEMORY_MARK_CLOSE));
        if (i)
            CHECK(json_number_value(json_object_get(json_array_get(items, i - 1), "score")) >=
                  json_number_value(json_object_get(it, "score")));
    }
    json_decref(items);

    items = list(db, "a1", "trees", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 2);
    json_decref(items);

    /* Every word matching ranks first; the orchard (a kind of garden in WordNet) comes last. */
    items = list(db, "a1", "planted tree garden", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 3);
    CHECK_EQ_STR(jstr(json_array_get(items, 0), "id"), jstr(t1, "id"));
    CHECK_EQ_STR(jstr(json_array_get(items, 2), "id"), jstr(t3, "id"));
    CHECK(strstr(jstr(json_array_get(items, 0), "highlight"), MEMORY_MARK_OPEN "garden" MEMORY_MARK_CLOSE) != NULL);
    json_decref(items);

    items = list(db, "a1", "roses", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK_EQ_STR(jstr(json_array_get(items, 0), "id"), jstr(t3, "id"));
    json_decref(items);

    items = list(db, "a1", "\") OR (\" NEAR * -", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 0);
    json_decref(items);
    items = list(db, "a1", "'; DROP TABLE memories; --", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 0);
    json_decref(items);

    /* Pages by offset: limit 1 through the two "planted" matches. */
    char *next = NULL;
    items = list(db, "a1", "planted", NULL, 1, &next);
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK_EQ_STR(next, "o1");
    char first[64];
    snprintf(first, sizeof first, "%s", jstr(json_array_get(items, 0), "id"));
    json_decref(items);
    char *next2 = NULL;
    items = list(db, "a1", "planted", next, 1, &next2);
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK(strcmp(first, jstr(json_array_get(items, 0), "id")) != 0);
    json_decref(items);
    free(next);
    /* Search ranks a window of candidates, so it knows when no page follows. */
    CHECK(next2 == NULL);
    items = list(db, "a1", "planted", "o2", 1, &next);
    CHECK_EQ_INT(json_array_size(items), 0);
    CHECK(next == NULL);
    json_decref(items);

    /* Refusals: no word, too long, a bad cursor. */
    char msg[128] = "", *nx = NULL;
    json_t *none = NULL;
    CHECK_EQ_INT(memory_list(db, "a1", "!?", NULL, 10, &none, &nx, msg, sizeof msg), DP_ERR_INVALID);
    CHECK(msg[0] != 0);
    char longq[MEMORY_QUERY_MAX + 2];
    memset(longq, 'a', sizeof longq - 1);
    longq[sizeof longq - 1] = 0;
    msg[0] = 0;
    CHECK_EQ_INT(memory_list(db, "a1", longq, NULL, 10, &none, &nx, msg, sizeof msg), DP_ERR_INVALID);
    CHECK(strstr(msg, "1000") != NULL);
    longq[MEMORY_QUERY_MAX] = 0; /* exactly the limit */
    json_decref(list(db, "a1", longq, NULL, 10, NULL));
    CHECK_EQ_INT(memory_list(db, "a1", "tree", "x1", 10, &none, &nx, msg, sizeof msg), DP_ERR_INVALID);
    CHECK_EQ_INT(memory_list(db, "a1", "tree", "o-5", 10, &none, &nx, msg, sizeof msg), DP_ERR_INVALID);
    CHECK(none == NULL && nx == NULL);

    json_decref(t1);
    json_decref(t2);
    json_decref(t3);
    json_decref(o);
}

static void check_update_versions_delete(struct db *db)
{
    json_t *m = create(db, "a1", "Grandma baked gingerbread every December");
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);

    json_t *u = NULL;
    OK(memory_update(db, "a1", id, "Grandma baked marzipan every December", "qa", NULL, NULL, NULL, "u1", &u));
    CHECK_EQ_INT(jint(u, "version"), 2);
    CHECK_EQ_STR(jstr(u, "kind"), "qa");
    CHECK(json_real_value(json_object_get(u, "importance")) == 0.5);
    json_decref(u);
    double imp = 0.9;
    OK(memory_update(db, "a1", id, "Grandma baked stollen every Christmas", NULL, &imp, NULL, NULL, "u1", &u));
    CHECK_EQ_INT(jint(u, "version"), 3);
    CHECK_EQ_STR(jstr(u, "kind"), "qa");
    CHECK(json_real_value(json_object_get(u, "importance")) == 0.9);
    json_decref(u);
    /* Only importance: the text stays. */
    imp = 0.1;
    OK(memory_update(db, "a1", id, NULL, NULL, &imp, NULL, NULL, NULL, &u));
    CHECK_EQ_INT(jint(u, "version"), 4);
    CHECK_EQ_STR(jstr(u, "text"), "Grandma baked stollen every Christmas");
    json_decref(u);

    json_t *vs = NULL;
    OK(memory_versions(db, "a1", id, &vs));
    CHECK_EQ_INT(json_array_size(vs), 3);
    CHECK_EQ_INT(jint(json_array_get(vs, 0), "version"), 3);
    CHECK_EQ_STR(jstr(json_array_get(vs, 0), "text"), "Grandma baked stollen every Christmas");
    CHECK_EQ_INT(jint(json_array_get(vs, 1), "version"), 2);
    CHECK_EQ_STR(jstr(json_array_get(vs, 1), "text"), "Grandma baked marzipan every December");
    CHECK_EQ_STR(jstr(json_array_get(vs, 1), "kind"), "qa");
    CHECK_EQ_INT(jint(json_array_get(vs, 2), "version"), 1);
    CHECK_EQ_STR(jstr(json_array_get(vs, 2), "text"), "Grandma baked gingerbread every December");
    CHECK_EQ_STR(jstr(json_array_get(vs, 2), "kind"), "fact");
    CHECK_EQ_STR(jstr(json_array_get(vs, 2), "edited_by"), "u1");
    CHECK(json_is_null(json_object_get(json_array_get(vs, 0), "edited_by")) ||
          json_object_get(json_array_get(vs, 0), "edited_by") == NULL);
    json_decref(vs);

    /* Search sees the current text only. */
    json_t *items = list(db, "a1", "stollen", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 1);
    json_decref(items);
    items = list(db, "a1", "gingerbread marzipan December", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 0);
    json_decref(items);

    /* Through another avatar: not found, and nothing recorded. */
    u = NULL;
    CHECK_EQ_INT(memory_update(db, "a2", id, "hijacked", NULL, NULL, NULL, NULL, "u1", &u), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_versions(db, "a2", id, &vs), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_delete(db, "a2", id), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_update(db, "a1", "01a20000-0000-7000-8000-000000000000", "x", NULL, NULL, NULL, NULL, "u1", &u),
                 DP_ERR_NOT_FOUND);
    CHECK(u == NULL);
    CHECK_EQ_INT(count_of(db, "SELECT COUNT(*) FROM memory_versions WHERE memory_id = ?", id), 3);
    OK(memory_get(db, "a1", id, &u));
    CHECK_EQ_INT(jint(u, "version"), 4);
    json_decref(u);
    /* The failed update left no transaction open: a write still works. */
    json_decref(create(db, "a1", "after the refused update"));

    /* A never-edited memory has no versions. */
    json_t *fresh = create(db, "a1", "never edited");
    OK(memory_versions(db, "a1", jstr(fresh, "id"), &vs));
    CHECK_EQ_INT(json_array_size(vs), 0);
    json_decref(vs);
    json_decref(fresh);

    /* Delete: gone, with its versions and from the index. */
    OK(memory_delete(db, "a1", id));
    u = NULL;
    CHECK_EQ_INT(memory_get(db, "a1", id, &u), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_delete(db, "a1", id), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_versions(db, "a1", id, &vs), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(memory_update(db, "a1", id, "again", NULL, NULL, NULL, NULL, "u1", &u), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(count_of(db, "SELECT COUNT(*) FROM memory_versions WHERE memory_id = ?", id), 0);
    items = list(db, "a1", "stollen Christmas", NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 0);
    json_decref(items);
    if (db_dialect(db) == DB_SQLITE)
        CHECK_EQ_INT(count_of(db, "SELECT COUNT(*) FROM memories_fts WHERE memories_fts MATCH 'stollen'", NULL), 0);
}

/* A word longer than 64 bytes in a memory is found by searching for that word. */
static void check_long_words(struct db *db)
{
    const char *word = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft";
    char text[256];
    snprintf(text, sizeof text, "Opa arbeitete bei der %s in Wien", word);
    json_t *m = create(db, "a1", text);
    char cjk[128] = "";
    for (int i = 0; i < 15; i++)
        strcat(cjk, "東京");
    json_t *m2 = create(db, "a1", cjk);
    json_t *items = list(db, "a1", word, NULL, 50, NULL);
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK(has_id(items, jstr(m, "id")));
    json_decref(items);
    json_t *out = NULL;
    char msg[128], *nx = NULL;
    OK(memory_list(db, "a1", cjk, NULL, 50, &out, &nx, msg, sizeof msg)); /* PostgreSQL: invalid UTF-8 → DP_ERR_DB */
    CHECK_EQ_INT(json_array_size(out), 1);
    CHECK(has_id(out, jstr(m2, "id")));
    json_decref(out);
    json_decref(m);
    json_decref(m2);
}

TEST(memory_store_sqlite_create_get_list)
{
    struct db *db = open_sqlite();
    check_create_get_list(db);
    db_close(db);
}

TEST(memory_store_sqlite_search)
{
    struct db *db = open_sqlite();
    check_search(db);
    db_close(db);
}

TEST(memory_store_sqlite_update_versions_delete)
{
    struct db *db = open_sqlite();
    check_update_versions_delete(db);
    db_close(db);
}

TEST(memory_store_sqlite_long_words_found)
{
    struct db *db = open_sqlite();
    check_long_words(db);
    db_close(db);
}

TEST(memory_store_pg_create_get_list)
{
    struct db *db = open_pg();
    check_create_get_list(db);
    db_close(db);
}

TEST(memory_store_pg_search)
{
    struct db *db = open_pg();
    check_search(db);
    db_close(db);
}

TEST(memory_store_pg_update_versions_delete)
{
    struct db *db = open_pg();
    check_update_versions_delete(db);
    db_close(db);
}

TEST(memory_store_pg_long_words_found)
{
    struct db *db = open_pg();
    check_long_words(db);
    db_close(db);
}
