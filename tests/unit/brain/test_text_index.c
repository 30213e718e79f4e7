/* Tests of the in-memory text index (src/brain/text_index.c) and word keys (core/text.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brain/text_index.h"
#include "core/text.h"
#include "core/err.h"
#include "store/db.h"
#include "store/db_read.h"
#include "../support.h"
#include "../test.h"
#include "brain_db.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static int same_key(const char *a, const char *b)
{
    char ka[TEXT_KEY_MAX], kb[TEXT_KEY_MAX];
    size_t la = text_word_key((const unsigned char *)a, strlen(a), ka),
           lb = text_word_key((const unsigned char *)b, strlen(b), kb);
    return la == lb && !memcmp(ka, kb, la);
}

TEST(words_key_meets_inflections_case_and_accents_only)
{
    CHECK(same_key("planted", "planting"));
    CHECK(same_key("plants", "plant"));
    CHECK(same_key("name", "named"));
    CHECK(same_key("trees", "tree"));
    CHECK(same_key("stories", "story"));
    CHECK(same_key("teachers", "teacher"));
    CHECK(same_key("MÜLLER", "müller"));
    CHECK(same_key("École", "ecole"));
    CHECK(same_key("used", "use"));
    CHECK(!same_key("up", "upon"));
    CHECK(!same_key("bed", "be"));
    CHECK(!same_key("red", "r"));
    CHECK(!same_key("lake", "like"));
}

static void put(struct db *db, int n, const char *text)
{
    char id[ID_LEN];
    snprintf(id, sizeof id, "00000000-0000-7000-8000-%012d", n);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(text)};
    OK(db_query(db,
                "INSERT INTO memories (id, avatar_id, kind, text, importance, created_at, updated_at) "
                "VALUES (?, 'a1', 'fact', ?, 0.5, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                p, 2, NULL));
}

/* An utterance added through the API (no dialogue: read in id order as one conversation). */
static void say(struct db *db, int n, const char *speaker, const char *text)
{
    char id[ID_LEN];
    snprintf(id, sizeof id, "00000000-0000-7000-8000-%012d", n);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(text), DB_TEXT(speaker)};
    OK(db_query(db,
                "INSERT INTO memories (id, avatar_id, kind, text, speaker, importance, created_at, updated_at) "
                "VALUES (?, 'a1', 'utterance', ?, ?, 0.5, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                p, 3, NULL));
}

static void query(struct text_query *q, const char *const *words)
{
    q->n = q->nalt = q->year = q->when = q->you = 0;
    for (; *words; words++) {
        q->len[q->n] = text_word_key((const unsigned char *)*words, strlen(*words), q->key[q->n]);
        q->word_len[q->n] = text_lower_word((const unsigned char *)*words, strlen(*words), q->word[q->n], TEXT_KEY_MAX);
        q->n++;
    }
}

TEST(text_index_ranks_more_words_first_then_bm25_and_follows_changes)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    put(db, 1, "The river ran behind the farm");
    put(db, 2, "We planted apple trees by the river behind the farm");
    put(db, 3, "Apple apple apple pie");
    put(db, 4, "Nothing to see here");
    struct text_query q;
    query(&q, (const char *const[]){"planting", "apples", "river", NULL});
    struct text_match *m;
    int n;
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002"); /* all three words */
    CHECK(m[0].words > m[1].words);                                /* words count by their idf: three beat one */
    CHECK(m[1].words >= m[2].words);
    free(m);
    /* window 1: only the best */
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 1, &m, &n));
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002");
    free(m);
    /* A new memory moves the revision: the next search sees it. */
    put(db, 5, "Planted apples near the river, planted more by the river");
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000005"); /* 3 words, more often, shorter */
    free(m);
    /* A word no memory holds: nothing. */
    query(&q, (const char *const[]){"zeppelin", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 0);
    free(m);
    /* Over the limit: the caller is told to use the engines. */
    text_index_reset();
    text_index_limit(3);
    CHECK_EQ_INT(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n), DP_ERR_TOO_LARGE);
    text_index_limit(200000);
    text_index_reset();
    db_close(db);
}

/* 5001 memories in avatar a1 (more than are built on the request path), half of them about a
 * heron; q the query "heron". */
static void put_large_avatar(struct db *db, struct text_query *q)
{
    OK(db_begin(db));
    for (int i = 1; i <= 5001; i++)
        put(db, i, i % 2 ? "A grey heron stood in the reeds" : "Swallows nested under the barn roof");
    OK(db_commit(db));
    query(q, (const char *const[]){"heron", NULL});
}

TEST(text_index_large_avatar_changed_is_searchable_at_once_and_rebuilt_in_the_background_when_far_behind)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    struct text_query q;
    put_large_avatar(db, &q);
    struct text_match *m;
    int n;
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n)); /* the first build: in the search */
    CHECK_EQ_INT(n, 5);
    free(m);
    OK(text_index_start(brain_test_db_url(), NULL));
    put(db, 9999, "A heron, a heron, a heron by the heron pond");
    /* Changed: the index catches up with the one memory written (an overlay), at once. */
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000009999");
    free(m);
    /* Far behind (more changes than an overlay takes): the caller is sent to the engines while
     * the builder works... */
    OK(db_begin(db));
    OK(db_query(db, "UPDATE memories SET importance = 0.6 WHERE avatar_id = 'a1' AND text LIKE 'Swallows%'", NULL, 0,
                NULL));
    OK(db_commit(db));
    put(db, 9998, "A heron, a heron, a heron, a heron by the heron pond");
    CHECK_EQ_INT(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n), DP_ERR_TOO_LARGE);
    /* ...and soon the index has caught up, with the new memory first. */
    int err = DP_ERR_TOO_LARGE;
    for (int tries = 0; tries < 500 && err == DP_ERR_TOO_LARGE; tries++) {
        err = text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n);
        if (err == DP_ERR_TOO_LARGE)
            usleep(10000);
    }
    OK(err);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000009998");
    free(m);
    text_index_stop();
    text_index_reset();
    db_close(db);
}

TEST(text_index_first_search_of_a_large_avatar_after_a_start_does_not_build_in_the_request)
{
    struct db *db = brain_test_db();
    text_index_reset(); /* as after a start: no index of any revision */
    text_index_limit(200000);
    struct text_query q;
    put_large_avatar(db, &q);
    struct text_match *m;
    int n;
    OK(text_index_start(brain_test_db_url(), NULL));
    /* The engines answer the first search while the builder makes the index... */
    CHECK_EQ_INT(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n), DP_ERR_TOO_LARGE);
    int err = DP_ERR_TOO_LARGE;
    for (int tries = 0; tries < 500 && err == DP_ERR_TOO_LARGE; tries++) {
        err = text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n);
        if (err == DP_ERR_TOO_LARGE)
            usleep(10000);
    }
    /* ...which then answers. */
    OK(err);
    CHECK_EQ_INT(n, 5);
    free(m);
    text_index_stop();
    /* Without a builder, the search builds it itself (as before). */
    text_index_reset();
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n));
    CHECK_EQ_INT(n, 5);
    free(m);
    text_index_reset();
    db_close(db);
}

/* Searches until the builder has made the index (the engines answer meanwhile). */
static int search_when_built(struct db *db, const struct text_query *q, struct text_match **m, int *n)
{
    int err = DP_ERR_TOO_LARGE;
    for (int tries = 0; tries < 500 && err == DP_ERR_TOO_LARGE; tries++)
        if ((err = text_index_search(db, "a1", brain_test_rev(db), q, 5, m, n)) == DP_ERR_TOO_LARGE)
            usleep(10000);
    return err;
}

TEST(text_index_saved_by_the_builder_answers_the_first_search_after_a_restart_caught_up_with_later_writes)
{
    struct db *db = brain_test_db();
    char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s/search-index", test_tmpdir());
    snprintf(file, sizeof file, "%s/a1.tix", dir);
    text_index_reset();
    text_index_limit(200000);
    struct text_query q;
    put_large_avatar(db, &q);
    struct text_match *m, *again;
    int n, n2;
    OK(text_index_start(brain_test_db_url(), dir));
    OK(search_when_built(db, &q, &m, &n)); /* built in the background, and saved right after */
    for (int tries = 0; tries < 500 && access(file, R_OK); tries++)
        usleep(10000);
    CHECK_EQ_INT(access(file, R_OK), 0);
    text_index_stop();
    text_index_reset(); /* a restart: nothing in memory */
    OK(text_index_start(brain_test_db_url(), dir));
    /* The first search is answered at once, from the file, the same as before. */
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &again, &n2));
    CHECK_EQ_INT(n2, n);
    for (int i = 0; i < n && i < n2; i++) {
        CHECK_EQ_STR(again[i].id, m[i].id);
        CHECK(again[i].bm25 == m[i].bm25);
    }
    free(m);
    free(again);
    /* Written after the file was saved: the file is caught up by an overlay, never served stale. */
    put(db, 9999, "A heron, a heron, a heron by the heron pond");
    text_index_stop();
    text_index_reset();
    OK(text_index_start(brain_test_db_url(), dir));
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000009999");
    free(m);
    text_index_stop();
    /* A damaged file is refused (the builder makes the index again) ... */
    CHECK_EQ_INT(truncate(file, 4096), 0);
    text_index_reset();
    OK(text_index_start(brain_test_db_url(), dir));
    CHECK_EQ_INT(text_index_search(db, "a1", brain_test_rev(db), &q, 5, &m, &n), DP_ERR_TOO_LARGE);
    OK(search_when_built(db, &q, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000009999");
    free(m);
    struct stat st;
    for (int tries = 0; tries < 500 && (stat(file, &st) || st.st_size <= 4096); tries++)
        usleep(10000); /* saved again, whole */
    CHECK(!stat(file, &st) && st.st_size > 4096);
    /* ... and a deleted avatar's file goes with it. */
    text_index_forget("a1");
    CHECK(access(file, F_OK) != 0);
    text_index_stop();
    text_index_reset();
    db_close(db);
}

TEST(text_index_keys_german_memories_with_the_german_stemmer)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    put(db, 1, "Wir haben die alten H\xc3\xa4user am Hafen gestrichen und die Kinder halfen mit.");
    put(db, 2, "Der Gro\xc3\x9fvater erz\xc3\xa4hlte uns jeden Abend eine Geschichte.");
    put(db, 3, "Im Sommer war ich oft bei meiner Tante auf dem Land.");
    put(db, 4, "Das ist nicht das Ende der Geschichten, sagte er und lachte.");
    put(db, 5, "Die Schule lag auf einem H\xc3\xbcgel.");
    struct text_query q;
    struct text_match *m;
    int n;
    /* "haus" (typed without accent, singular) meets "Häuser"; "geschichten" meets both stories */
    query(&q, (const char *const[]){"Haus", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000001");
    free(m);
    query(&q, (const char *const[]){"Geschichten", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 2);
    free(m);
    query(&q, (const char *const[]){"grossvater", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002");
    free(m);
    text_index_reset();
    db_close(db);
}

/* Memory n of avatar a ('a1' or 'a2': the same numbers, ids that sort alike). */
static void put_row(struct db *db, const char *a, int n, const char *kind, const char *dialogue, int seq,
                    const char *text)
{
    char id[ID_LEN];
    snprintf(id, sizeof id, "%c0000000-0000-7000-8000-%012d", a[1], n);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(a), DB_TEXT(kind), DB_TEXT(text), dialogue ? DB_TEXT(dialogue) : DB_NULL,
                         DB_INT(seq)};
    OK(db_query(db,
                "INSERT INTO memories (id, avatar_id, kind, text, dialogue, seq, importance, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0.5, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                p, 6, NULL));
}

static int64_t rev_of(struct db *db, const char *a)
{
    int64_t rev = 0;
    OK(db_int(db, "SELECT memory_rev FROM avatars WHERE id = ?", (struct db_val[]){DB_TEXT(a)}, 1, &rev));
    return rev;
}

/* Random inserts, edits (text, kind: dialogue neighbours come and go) and deletes, applied alike to
 * a1 and a2: a1's index catches up through overlays, a2's is built whole each time (its change log
 * is emptied); every search answers the same, scores to the bit, ties in id order. */
TEST(text_index_overlays_answer_exactly_as_a_whole_build)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    OK(db_exec_script(db, "INSERT INTO avatars (id, owner_id, org_id, name, kind, visibility, brain, created_at, "
                          "updated_at) VALUES ('a2', 'u1', 'default', 'Twin', 'self', 'private', 'recall', "
                          "'2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"));
    static const char *const words[] = {"river", "apple", "heron",    "farm",    "lake",   "bread",
                                        "uncle", "porch", "cribbage", "Chicago", "summer", "tree"};
    static const char *const queries[][4] = {
        {"river", NULL}, {"apple", "tree", NULL}, {"uncle", "cribbage", NULL}, {"lake", "summer", "bread", NULL},
        {"heron", NULL}, {"porch", "farm", NULL}};
    unsigned seed = 12345;
    int present[64] = {0};
    for (int step = 0; step < 120; step++) {
        int batch = 1 + (int)(rand_r(&seed) % 6); /* changes between two searches */
        for (int b = 0; b < batch; b++) {
            int n = 1 + (int)(rand_r(&seed) % 60), op = (int)(rand_r(&seed) % 4);
            char text[200];
            snprintf(text, sizeof text, "The %s and the %s by the %s%s", words[rand_r(&seed) % 12],
                     words[rand_r(&seed) % 12], words[rand_r(&seed) % 12], rand_r(&seed) % 3 ? "." : "?");
            const char *kind = rand_r(&seed) % 3 ? "utterance" : "fact";
            for (int a = 1; a <= 2; a++) {
                const char *av = a == 1 ? "a1" : "a2";
                char id[ID_LEN];
                snprintf(id, sizeof id, "%c0000000-0000-7000-8000-%012d", av[1], n);
                if (!present[n])
                    put_row(db, av, n, kind, NULL, n, text);
                else if (op == 0)
                    OK(db_query(db, "DELETE FROM memories WHERE id = ?", (struct db_val[]){DB_TEXT(id)}, 1, NULL));
                else if (op == 1)
                    OK(db_query(db, "UPDATE memories SET kind = ? WHERE id = ?",
                                (struct db_val[]){DB_TEXT(kind), DB_TEXT(id)}, 2, NULL));
                else
                    OK(db_query(db, "UPDATE memories SET text = ? WHERE id = ?",
                                (struct db_val[]){DB_TEXT(text), DB_TEXT(id)}, 2, NULL));
            }
            present[n] = !present[n] || op != 0;
        }
        OK(db_query(db, "DELETE FROM memory_changes WHERE avatar_id = 'a2'", NULL, 0, NULL));
        for (size_t k = 0; k < sizeof queries / sizeof *queries; k++) {
            struct text_query q;
            query(&q, queries[k]);
            struct text_match *m1, *m2;
            int n1, n2;
            OK(text_index_search(db, "a1", rev_of(db, "a1"), &q, 100, &m1, &n1));
            OK(text_index_search(db, "a2", rev_of(db, "a2"), &q, 100, &m2, &n2));
            CHECK_EQ_INT(n1, n2);
            for (int i = 0; i < n1 && i < n2; i++) {
                CHECK_EQ_STR(m1[i].id + 1, m2[i].id + 1);
                CHECK(m1[i].words == m2[i].words);
                CHECK(m1[i].bm25 == m2[i].bm25);
            }
            int df1[MEMORY_QUERY_TERMS], df2[MEMORY_QUERY_TERMS];
            OK(text_index_df(db, "a1", rev_of(db, "a1"), &q, df1));
            OK(text_index_df(db, "a2", rev_of(db, "a2"), &q, df2));
            for (int i = 0; i < q.n; i++)
                CHECK_EQ_INT(df1[i], df2[i]);
            free(m1);
            free(m2);
        }
    }
    text_index_reset();
    db_close(db);
}

TEST(text_index_a_question_naming_a_speaker_favours_their_own_lines)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    /* the speaker from the column, or from "Name: " when a client stores chat lines so */
    say(db, 1, NULL, "Ben: Anna, did you ever paint the lighthouse at the harbour?");
    say(db, 2, "Anna", "Only once, the harbour lighthouse in the fog.");
    say(db, 3, NULL, "Ben: I painted the lighthouse at the harbour last spring, Anna.");
    struct text_query q;
    struct text_match *m;
    int n;
    query(&q, (const char *const[]){"Anna", "paint", "lighthouse", "harbour", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002"); /* Anna's answer, though Ben's lines hold more */
    free(m);
    /* without a name, the line holding every word comes first */
    query(&q, (const char *const[]){"paint", "lighthouse", "harbour", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK(n == 3 && strcmp(m[0].id, "00000000-0000-7000-8000-000000000002") != 0);
    free(m);
    text_index_reset();
    db_close(db);
}

TEST(text_index_a_reply_is_found_by_the_question_it_answers_and_when_questions_favour_time_words)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    say(db, 1, "Nate", "I made my friend some ice cream and they loved it.");
    say(db, 2, "Jo", "What flavour of ice cream did you make?");
    say(db, 3, "Nate", "Chocolate and vanilla swirl.");
    say(db, 4, "Nate", "We went to the lake with the dog.");
    say(db, 5, "Nate", "Last summer the dog swam in the lake every day.");
    struct text_query q;
    struct text_match *m;
    int n;
    query(&q, (const char *const[]){"flavour", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_INT(n, 4); /* the 4th: the line two after the question (TEXT_EARLIER_WEIGHT) */
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002");
    CHECK_EQ_STR(m[1].id, "00000000-0000-7000-8000-000000000003"); /* the reply, by the question it answers */
    CHECK(m[1].words > 0.7 * m[0].words && m[1].words < m[0].words);
    CHECK(!strcmp(m[2].id, "00000000-0000-7000-8000-000000000001") || /* the line the question follows */
          !strcmp(m[3].id, "00000000-0000-7000-8000-000000000001"));
    free(m);
    query(&q, (const char *const[]){"dog", "lake", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK(n >= 2);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000004"); /* the shorter line */
    free(m);
    q.when = 1; /* "When did the dog swim in the lake?" */
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000005"); /* the line that says when */
    free(m);
    text_index_reset();
    db_close(db);
}

TEST(text_index_a_reply_is_found_by_its_speakers_line_before_the_question_and_a_question_tells_less)
{
    struct db *db = brain_test_db();
    text_index_reset();
    text_index_limit(200000);
    static const char *const chat[][2] = {{"Mia", "We took the kids camping last weekend."},
                                          {"Tom", "Lovely! Where did you go?"},
                                          {"Mia", "Up in the mountains by a waterfall, it was gorgeous."},
                                          {"Tom", "Camping sounds fun, we should try it. Is it hard?"},
                                          {"Mia", "Not at all."}};
    for (int i = 0; i < 5; i++)
        say(db, i + 1, chat[i][0], chat[i][1]);
    struct text_query q;
    struct text_match *m;
    int n;
    /* "Where did Mia go camping?": the reply says where; its speaker's line before the question
     * says camping */
    query(&q, (const char *const[]){"camping", "waterfall", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000003");
    free(m);
    /* line 3 holds "camping" only through line 1, two turns before it (less than the turn after) */
    query(&q, (const char *const[]){"camping", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    int at3 = -1, at4 = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(m[i].id, "00000000-0000-7000-8000-000000000003"))
            at3 = i;
        if (!strcmp(m[i].id, "00000000-0000-7000-8000-000000000004"))
            at4 = i;
    }
    CHECK(at3 >= 0 && at4 >= 0);
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000001"); /* says it, and asks nothing */
    CHECK(m[at4].words < m[0].words);                              /* says it too, but asks */
    CHECK(m[at3].words < 0.5 * m[0].words && m[at3].words > 0.3 * m[0].words);
    /* its idf counts the two lines that say it, not the four more that find it beside them */
    CHECK_EQ_INT(n, 5);
    int df[1];
    OK(text_index_df(db, "a1", brain_test_rev(db), &q, df));
    CHECK_EQ_INT(df[0], 2);
    free(m);
    text_index_reset();
    db_close(db);
}

TEST(text_index_you_in_a_question_favours_the_avatars_own_lines)
{
    struct db *db = brain_test_db(); /* avatar a1 is "Grandpa Joe" */
    text_index_reset();
    text_index_limit(200000);
    say(db, 1, "Lily", "Grandpa, I caught a trout at the lake with the blue boat!");
    say(db, 2, "Joe", "Well done. I caught my first trout there too.");
    struct text_query q;
    struct text_match *m;
    int n;
    query(&q, (const char *const[]){"caught", "trout", "lake", "boat", NULL});
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000001"); /* all the words */
    free(m);
    q.you = 1; /* "Where did you catch a trout? At the lake with the boat?" */
    OK(text_index_search(db, "a1", brain_test_rev(db), &q, 10, &m, &n));
    CHECK_EQ_STR(m[0].id, "00000000-0000-7000-8000-000000000002"); /* Joe's own line */
    free(m);
    text_index_reset();
    db_close(db);
}
