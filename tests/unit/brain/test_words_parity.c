/* Search and the recall brain see the same words (issue: search found "Müller" for "MÜLLER" while
 * the brain, tokenising on its own, said "I don't remember"). For texts in several scripts the
 * keys search looks for (memory_query_keys) and the brain's content words (brain_recall_words)
 * are the same set, and a memory search finds by a spelling is the one the brain answers with. */
#include <jansson.h>
#include <string.h>

#include "../test.h"
#include "brain/brain.h"
#include "brain/memory.h"
#include "brain_db.h"
#include "core/err.h"
#include "store/db.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static const char *const texts[] = {
    "Herr M\xc3\xbcller fixed my bike", /* Latin with an umlaut */
    "Die Stra\xc3\x9f"
    "e in K\xc3\xb6ln war im Winter vereist",                             /* German ß, ö */
    "\xc3\x89lodie a visit\xc3\xa9 Besan\xc3\xa7on en \xc3\xa9t\xc3\xa9", /* French accents */
    "\xce\x97 \xce\xb3\xce\xb9\xce\xb1\xce\xb3\xce\xb9\xce\xac \xce\xbc\xce\xbf\xcf\x85 \xce\xad\xce\xbb\xce\xb5"
    "\xce\xb3\xce\xb5 \xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x81\xce\xaf\xce\xb5\xcf\x82", /* Η γιαγιά μου έλεγε ιστορίες */
    "\xd0\x91\xd0\xb0\xd0\xb1\xd1\x83\xd1\x88\xd0\xba\xd0\xb0 \xd0\xbf\xd0\xb5\xd0\xba\xd0\xbb\xd0\xb0 "
    "\xd0\xbf\xd0\xb8\xd1\x80\xd0\xbe\xd0\xb6\xd0\xba\xd0\xb8 \xd0\x81\xd0\xbb\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe", /* Бабушка пекла пирожки Ёлкино */
    "\xc4\xb0stanbul'da Ay\xc5\x9f"
    "e ile \xc3\xa7"
    "ay i\xc3\xa7tik", /* İstanbul'da Ayşe ile çay içtik */
    "Zo\xc3\xab met \xd0\x94\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9 in \xe6\x9d\xb1\xe4\xba\xac on "
    "1984-05-03, didn't she?", /* mixed, digits, CJK, a contraction */
};

/* 1 when a[0..na) and b[0..nb) hold the same strings. */
static int same_set(char a[][TEXT_KEY_MAX + 1], int na, char b[][TEXT_KEY_MAX + 1], int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++)
            found = !strcmp(a[i], b[j]);
        if (!found)
            return 0;
    }
    return 1;
}

static void show(const char *who, char k[][TEXT_KEY_MAX + 1], int n)
{
    fprintf(stderr, "    %s:", who);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " [%s]", k[i]);
    fprintf(stderr, "\n");
}

TEST(words_search_and_recall_brain_see_the_same_words_in_several_scripts)
{
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        char s[MEMORY_QUERY_TERMS][TEXT_KEY_MAX + 1], b[MEMORY_QUERY_TERMS][TEXT_KEY_MAX + 1];
        int ns = memory_query_keys(texts[t], s), nb = brain_recall_words(texts[t], b, MEMORY_QUERY_TERMS);
        if (!same_set(s, ns, b, nb)) {
            fprintf(stderr, "    text: %s\n", texts[t]);
            show("search", s, ns);
            show("brain", b, nb);
        }
        CHECK(ns > 0);
        CHECK(same_set(s, ns, b, nb));
    }
    /* Spellings that must meet: what search keys one as is what the brain keys the other as. */
    static const char *const pairs[][2] = {
        {"M\xc3\xbcller", "M\xc3\x9cLLER"},  /* Müller, MÜLLER */
        {"M\xc3\xbcller", "Mu\xcc\x88ller"}, /* decomposed ü */
        {"Stra\xc3\x9f"
         "e",
         "STRASSE"},                 /* Straße */
        {"\xc3\x89lodie", "ELODIE"}, /* Élodie */
        {"\xce\xb3\xce\xb9\xce\xb1\xce\xb3\xce\xb9\xce\xac",
         "\xce\x93\xce\x99\xce\x91\xce\x93\xce\x99\xce\x91"}, /* γιαγιά ΓΙΑΓΙΑ */
        {"\xd0\x81\xd0\xbb\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe",
         "\xd0\xb5\xd0\xbb\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe"}, /* Ёлкино елкино */
        {"\xc4\xb0stanbul", "ISTANBUL"},                      /* İstanbul */
        {"planting", "Plants"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char s[MEMORY_QUERY_TERMS][TEXT_KEY_MAX + 1], b[MEMORY_QUERY_TERMS][TEXT_KEY_MAX + 1];
        int ns = memory_query_keys(pairs[i][0], s), nb = brain_recall_words(pairs[i][1], b, MEMORY_QUERY_TERMS);
        if (!same_set(s, ns, b, nb)) {
            show("search", s, ns);
            show("brain", b, nb);
        }
        CHECK_EQ_INT(ns, 1);
        CHECK(same_set(s, ns, b, nb));
    }
}

static const char *first_id(json_t *items)
{
    return json_string_value(json_object_get(json_array_get(items, 0), "id"));
}

/* Searches q; the first result's id, copied into out ("" when none). */
static void search_first(struct db *db, const char *q, char *out, size_t cap)
{
    json_t *items = NULL;
    char *next = NULL, msg[128];
    OK(memory_list(db, "a1", q, NULL, 10, &items, &next, msg, sizeof msg));
    snprintf(out, cap, "%s", first_id(items) ? first_id(items) : "");
    json_decref(items);
    free(next);
}

TEST(words_what_search_finds_by_any_spelling_the_recall_brain_answers_with)
{
    struct db *db = brain_test_db();
    char ids[4][64];
    static const char *const mems[] = {
        "Herr M\xc3\xbcller fixed my bike",
        "Die Stra\xc3\x9f"
        "e war im Winter vereist",
        "\xce\x97 \xce\xb3\xce\xb9\xce\xb1\xce\xb3\xce\xb9\xce\xac \xce\xbc\xce\xbf\xcf\x85 \xce\xad\xce\xbb\xce\xb5"
        "\xce\xb3\xce\xb5 \xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x81\xce\xaf\xce\xb5\xcf\x82",
        "\xd0\x91\xd0\xb0\xd0\xb1\xd1\x83\xd1\x88\xd0\xba\xd0\xb0 \xd0\xb6\xd0\xb8\xd0\xbb\xd0\xb0 \xd0\xb2 "
        "\xd0\x81\xd0\xbb\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe", /* Бабушка жила в Ёлкино */
    };
    for (int i = 0; i < 4; i++) {
        json_t *m = NULL;
        OK(memory_create(db, "a1", mems[i], "fact", 0.5, NULL, &m));
        snprintf(ids[i], sizeof ids[i], "%s", json_string_value(json_object_get(m, "id")));
        json_decref(m);
    }
    static const struct {
        const char *question;
        int memory;
    } asks[] = {
        {"Who is M\xc3\x9cLLER?", 0}, /* MÜLLER */
        {"And MULLER, who is he?", 0},
        {"What about the STRASSE in winter?", 1},
        {"\xce\x93\xce\x99\xce\x91\xce\x93\xce\x99\xce\x91;", 2}, /* ΓΙΑΓΙΑ; */
        {"\xd0\x95\xd0\x9b\xd0\x9a\xd0\x98\xd0\x9d\xd0\x9e?", 3}, /* ЕЛКИНО? */
    };
    for (size_t i = 0; i < sizeof asks / sizeof *asks; i++) {
        char found[64];
        search_first(db, asks[i].question, found, sizeof found);
        CHECK_EQ_STR(found, ids[asks[i].memory]);
        json_t *history = json_array();
        struct brain_input in = {db,   "a1", "Grandpa Joe", "", asks[i].question, history, NULL, NULL,
                                 NULL, NULL, NULL,          0};
        struct brain_reply r;
        OK(brain_for("recall")->reply(&in, &r));
        const char *cited = json_string_value(json_object_get(json_array_get(r.citations, 0), "memory_id"));
        if (!cited || strcmp(cited, ids[asks[i].memory]))
            fprintf(stderr, "    %s → %s\n", asks[i].question, r.text);
        CHECK(cited && !strcmp(cited, ids[asks[i].memory]));
        brain_reply_cleanup(&r);
        json_decref(history);
    }
    db_close(db);
}
