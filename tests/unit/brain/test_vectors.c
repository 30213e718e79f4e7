/* Tests of src/brain/vectors.c (dot product, exact top-k scan, stored form, reload on a new
 * memory revision) and src/core/text.c (folding, stop words). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brain/avatar_slots.h"
#include "brain/vectors.h"
#include "core/text.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "../test.h"
#include "brain_db.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

TEST(vectors_dot_matches_a_plain_sum_for_every_length)
{
    float a[67], b[67];
    for (int i = 0; i < 67; i++) {
        a[i] = (float)sin(i * 0.7);
        b[i] = (float)cos(i * 1.3);
    }
    for (int dims = 0; dims <= 67; dims++) {
        double want = 0;
        for (int i = 0; i < dims; i++)
            want += (double)a[i] * b[i];
        CHECK(fabs(vectors_dot(a, b, dims) - want) < 1e-4);
    }
}

TEST(vectors_blob_round_trip_is_exact_little_endian)
{
    float v[4] = {1.0f, -2.5f, 0.0f, 3.1415927f}, back[4];
    unsigned char blob[16];
    vectors_to_blob(v, 4, blob);
    CHECK_EQ_INT(blob[0], 0x00);
    CHECK_EQ_INT(blob[3], 0x3f); /* 1.0f = 0x3f800000, little-endian */
    CHECK_EQ_INT(blob[2], 0x80);
    vectors_from_blob(blob, 4, back);
    CHECK(memcmp(v, back, sizeof v) == 0);
}

/* Stores memory id with vector v (dims 3) of model. */
static void put(struct db *db, const char *id, const float *v, const char *model)
{
    unsigned char blob[12];
    vectors_to_blob(v, 3, blob);
    struct db_val p[] = {DB_TEXT(id), DB_BLOB(blob, model ? 12 : 0), DB_TEXT(model)};
    if (!model)
        p[1] = DB_NULL;
    OK(db_query(db,
                "INSERT INTO memories (id, avatar_id, kind, text, importance, embedding, embedding_model, created_at, "
                "updated_at) VALUES (?, 'a1', 'fact', 't', 0.5, ?, ?, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                p, 3, NULL));
}

TEST(vectors_search_is_exact_top_k_best_first_and_counts_the_missing)
{
    struct db *db = brain_test_db();
    vectors_reset();
    const float x[3] = {1, 0, 0}, y[3] = {0, 1, 0}, xy[3] = {0.7071f, 0.7071f, 0}, nx[3] = {-1, 0, 0};
    put(db, "m1", x, "m");
    put(db, "m2", y, "m");
    put(db, "m3", xy, "m");
    put(db, "m4", nx, "m");
    put(db, "m5", x, "other-model"); /* another model's vector: not compared, counted missing */
    put(db, "m6", x, NULL);          /* no vector yet */
    struct vec_hit hits[8];
    int n = -1, missing = -1;
    OK(vectors_search(db, "a1", brain_test_rev(db), "m", x, 3, 3, hits, &n, &missing));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(missing, 2);
    CHECK_EQ_STR(hits[0].id, "m1");
    CHECK_EQ_STR(hits[1].id, "m3");
    CHECK(fabs(hits[1].score - 0.7071) < 1e-3);
    CHECK_EQ_STR(hits[2].id, "m2"); /* 0 beats -1: m4 is left out of the top 3 */
    OK(vectors_search(db, "a1", brain_test_rev(db), "m", x, 3, 8, hits, &n, &missing));
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_STR(hits[3].id, "m4");

    /* A change bumps the revision: the next search sees it (the index is loaded again). */
    int64_t before = brain_test_rev(db);
    OK(db_query(db, "DELETE FROM memories WHERE id = 'm1'", NULL, 0, NULL));
    CHECK(brain_test_rev(db) > before);
    OK(vectors_search(db, "a1", brain_test_rev(db), "m", x, 3, 8, hits, &n, &missing));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(hits[0].id, "m3");
    /* Another model's query sees only that model's vectors. */
    OK(vectors_search(db, "a1", brain_test_rev(db), "other-model", x, 3, 8, hits, &n, &missing));
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(hits[0].id, "m5");
    vectors_reset();
    db_close(db);
}

TEST(words_fold_case_and_diacritics)
{
    CHECK_EQ_INT(text_fold('A'), 'a');
    CHECK_EQ_INT(text_fold(0xc9), 'e');      /* É */
    CHECK_EQ_INT(text_fold(0xfc), 'u');      /* ü */
    CHECK_EQ_INT(text_fold(0xdc), 'u');      /* Ü */
    CHECK_EQ_INT(text_fold(0x141), 0x142);   /* Ł → ł */
    CHECK_EQ_INT(text_fold(0xdf), 0xdf);     /* ß stays */
    CHECK_EQ_INT(text_fold(0x393), 0x3b3);   /* Γ → γ */
    CHECK_EQ_INT(text_fold(0x3ac), 0x3b1);   /* ά → α */
    CHECK_EQ_INT(text_fold(0x416), 0x436);   /* Ж → ж */
    CHECK_EQ_INT(text_fold(0x7956), 0x7956); /* CJK unchanged */
}

TEST(words_stop_words_are_case_insensitive_and_whole)
{
    CHECK(text_is_stop((const unsigned char *)"the", 3));
    CHECK(text_is_stop((const unsigned char *)"The", 3));
    CHECK(text_is_stop((const unsigned char *)"YOUR", 4));
    CHECK(!text_is_stop((const unsigned char *)"theme", 5));
    CHECK(!text_is_stop((const unsigned char *)"th", 2));
    CHECK(!text_is_stop((const unsigned char *)"garden", 6));
    CHECK(!text_is_stop((const unsigned char *)"", 0));
}

TEST(vectors_budget_lets_an_avatar_too_large_for_it_be_searched_by_text_alone)
{
    struct db *db = brain_test_db();
    vectors_reset();
    const float x[3] = {1, 0, 0}, y[3] = {0, 1, 0};
    put(db, "m1", x, "m");
    put(db, "m2", y, "m");
    struct vec_hit hits[4];
    int n = -1, missing = -1;
    vectors_budget(100); /* less than two rows with their ids */
    OK(vectors_search(db, "a1", brain_test_rev(db), "m", x, 3, 4, hits, &n, &missing));
    CHECK_EQ_INT(n, 0);
    CHECK(vectors_held() < 100); /* an empty marker: the rows are not read again for this revision */
    vectors_reset();
    vectors_budget((size_t)1 << 20);
    OK(vectors_search(db, "a1", brain_test_rev(db), "m", x, 3, 4, hits, &n, &missing));
    CHECK_EQ_INT(n, 2);
    CHECK(vectors_held() > 0 && vectors_held() < 1000);
    vectors_reset();
    CHECK_EQ_INT(vectors_held(), 0);
    vectors_budget((size_t)1 << 30);
    db_close(db);
}

/* A slot entry of `bytes` for avatar name, counting its destruction. */
static int destroyed;
static void count_destroy(struct slot_entry *e)
{
    destroyed++;
    free(e);
}
static struct slot_entry *entry(const char *avatar, size_t bytes)
{
    struct slot_entry *e = calloc(1, sizeof *e);
    snprintf(e->avatar, sizeof e->avatar, "%s", avatar);
    e->refs = 1;
    e->bytes = bytes;
    e->destroy = count_destroy;
    return e;
}

TEST(avatar_slots_budget_lets_the_least_recently_used_go_first)
{
    static struct avatar_slots c = AVATAR_SLOTS_INIT;
    avatar_slots_budget(&c, 250);
    destroyed = 0;
    struct slot_entry *a = entry("a", 100), *b = entry("b", 100);
    avatar_slots_keep(&c, a);
    avatar_slots_release(&c, a);
    avatar_slots_keep(&c, b);
    avatar_slots_release(&c, b);
    struct slot_entry *found = avatar_slots_find(&c, "a", 0, ""); /* a used again: b is now the oldest */
    CHECK(found == a);
    avatar_slots_release(&c, found);
    struct slot_entry *d = entry("d", 100); /* 300 > 250: b goes */
    avatar_slots_keep(&c, d);
    avatar_slots_release(&c, d);
    CHECK_EQ_INT(destroyed, 1);
    CHECK(avatar_slots_find(&c, "b", 0, "") == NULL);
    CHECK_EQ_INT((int)c.bytes, 200);
    /* an entry in use when let go lives until its reader releases it */
    found = avatar_slots_find(&c, "a", 0, "");
    struct slot_entry *big = entry("e", 240);
    avatar_slots_keep(&c, big);
    avatar_slots_release(&c, big);
    CHECK_EQ_INT(destroyed, 2); /* d gone; a still held by its reader */
    CHECK_EQ_INT((int)c.bytes, 240);
    avatar_slots_release(&c, found);
    CHECK_EQ_INT(destroyed, 3);
    avatar_slots_reset(&c);
    CHECK_EQ_INT(destroyed, 4);
    CHECK_EQ_INT((int)c.bytes, 0);
}
