/* Tests of the re-ranking knobs of memory search (src/brain/memory_search.c): importance and
 * recency move memories of equal text relevance, and only as far as they are tuned to. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "brain/memory.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "../test.h"
#include "brain_db.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static void put(struct db *db, const char *id, double importance, const char *created_at)
{
    struct db_val p[] = {DB_TEXT(id), DB_REAL(importance), DB_TEXT(created_at), DB_TEXT(created_at)};
    OK(db_query(db,
                "INSERT INTO memories (id, avatar_id, kind, text, importance, created_at, updated_at) "
                "VALUES (?, 'a1', 'fact', 'We rowed across the harbour at dawn', ?, ?, ?)",
                p, 4, NULL));
}

/* The ids of a search for "harbour", best first, joined by spaces. */
static void order(struct db *db, char *out, size_t cap)
{
    json_t *items = NULL;
    char *next = NULL, msg[128];
    OK(memory_list(db, "a1", "harbour", NULL, 10, &items, &next, msg, sizeof msg));
    free(next);
    out[0] = 0;
    size_t i;
    json_t *m;
    json_array_foreach (items, i, m) {
        strncat(out, json_string_value(json_object_get(m, "id")), cap - strlen(out) - 1);
        strncat(out, " ", cap - strlen(out) - 1);
    }
    json_decref(items);
}

TEST(search_importance_and_recency_knobs)
{
    struct db *db = brain_test_db();
    char now[RFC3339_LEN], got[512];
    time_rfc3339(time_now_ms(), now);
    /* Same text: equal relevance. a = old and important, b = new and unimportant. */
    put(db, "00000000-0000-7000-8000-00000000000a", 0.9, "2001-01-01T00:00:00Z");
    put(db, "00000000-0000-7000-8000-00000000000b", 0.1, now);

    struct memory_tuning t = {0, 0, 30, 0.3}; /* no knobs: ties go by id */
    memory_tune(&t);
    order(db, got, sizeof got);
    CHECK_EQ_STR(got, "00000000-0000-7000-8000-00000000000a 00000000-0000-7000-8000-00000000000b ");

    t.importance_weight = 0.1; /* the default: the important one first */
    memory_tune(&t);
    order(db, got, sizeof got);
    CHECK_EQ_STR(got, "00000000-0000-7000-8000-00000000000a 00000000-0000-7000-8000-00000000000b ");

    t.recency_weight = 1.0; /* a fresh memory counts double: recency beats a 10 % importance */
    memory_tune(&t);
    order(db, got, sizeof got);
    CHECK_EQ_STR(got, "00000000-0000-7000-8000-00000000000b 00000000-0000-7000-8000-00000000000a ");

    t.importance_weight = 0; /* both off again: id order */
    t.recency_weight = 0;
    memory_tune(&t);
    order(db, got, sizeof got);
    CHECK_EQ_STR(got, "00000000-0000-7000-8000-00000000000a 00000000-0000-7000-8000-00000000000b ");

    struct memory_tuning defaults = {0.1, 0, 30, 0.3};
    memory_tune(&defaults);
    db_close(db);
}
