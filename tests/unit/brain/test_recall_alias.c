/* Apposition inside a passage (brain/recall_alias.c). */
#include <string.h>

#include "../test.h"
#include "brain/recall_alias.h"

/* The name keyed for noun among the appositions of text, "" when none. */
static const char *alias_of(const char *text, const char *noun, struct recall_alias out[RECALL_ALIASES])
{
    int n = recall_aliases(text, out, RECALL_ALIASES);
    for (int i = 0; i < n; i++)
        if (!strcmp(out[i].noun, noun))
            return out[i].name;
    return "";
}

TEST(recall_aliases_pair_a_person_noun_with_the_name_beside_it)
{
    struct recall_alias a[RECALL_ALIASES];
    CHECK_EQ_STR(alias_of("We were six. My cousin Walter came last.", "cousin", a), "walter");
    CHECK_EQ_STR(alias_of("I married your grandfather, Joseph Baker, in the spring.", "grandfather", a), "joseph");
    /* the name as search keys it (a name that looks like a plural loses its s, as in the index) */
    char agnes[TEXT_KEY_MAX + 1];
    agnes[text_word_key((const unsigned char *)"Agnes", 5, agnes)] = 0;
    CHECK_EQ_STR(alias_of("On Sundays Agnes, my aunt, baked bread.", "aunt", a), agnes);
    /* where the apposition stands: the sentence that introduces the person */
    const char *t = "Then my uncle Otto arrived.";
    recall_aliases(t, a, RECALL_ALIASES);
    CHECK_EQ_INT((int)a[0].at, (int)(strstr(t, "my") - t));
    CHECK_EQ_INT((int)a[0].end, (int)(strstr(t, " arrived") - t));
    /* not a person, not a name, not a possessive */
    CHECK_EQ_STR(alias_of("My car Betsy never started.", "car", a), "");
    CHECK_EQ_STR(alias_of("my sister was tall.", "sister", a), "");
    CHECK_EQ_STR(alias_of("The sister Clara sang.", "sister", a), "");
    CHECK_EQ_INT(recall_aliases("", a, RECALL_ALIASES), 0);
}

TEST(recall_alias_named_finds_the_name_as_search_keys_it)
{
    struct recall_alias a[RECALL_ALIASES];
    CHECK_EQ_STR(alias_of("my brother Walter", "brother", a), "walter");
    const char *s = "Walter became a pilot.";
    CHECK(recall_alias_named(&a[0], s, strlen(s)));
    CHECK(!recall_alias_named(&a[0], s, 3));
    CHECK(!recall_alias_named(&a[0], "He flew.", 8));
}
