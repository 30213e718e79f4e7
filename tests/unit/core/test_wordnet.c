/* Word keys from WordNet lemmas (core/wordnet.c through text_word_key) and related words. */
#include <string.h>

#include "../test.h"
#include "core/text.h"
#include "core/wordnet.h"

static int same_key(const char *a, const char *b)
{
    char ka[TEXT_KEY_MAX], kb[TEXT_KEY_MAX];
    size_t na = text_word_key((const unsigned char *)a, strlen(a), ka);
    size_t nb = text_word_key((const unsigned char *)b, strlen(b), kb);
    return na == nb && !memcmp(ka, kb, na);
}

static const char *key_of(const char *w, char out[TEXT_KEY_MAX + 1])
{
    out[text_word_key((const unsigned char *)w, strlen(w), out)] = 0;
    return out;
}

/* 1 when word is among the words related to lemma, with that kind (-1: any). */
static int related(const char *lemma, const char *word, int want_kind)
{
    char out[WORDNET_RELATED_MAX][32];
    int kind[WORDNET_RELATED_MAX];
    int n = wordnet_related(lemma, strlen(lemma), out, kind, WORDNET_RELATED_MAX);
    for (int i = 0; i < n; i++)
        if (!strcmp(out[i], word))
            return want_kind < 0 || kind[i] == want_kind;
    return 0;
}

TEST(wordnet_lemmas_of_irregular_verbs_and_plurals)
{
    CHECK(wordnet_ready());
    char k[TEXT_KEY_MAX + 1];
    CHECK_EQ_STR(key_of("grew", k), "grow");
    CHECK_EQ_STR(key_of("Taught", k), "teach");
    CHECK_EQ_STR(key_of("went", k), "go");
    CHECK_EQ_STR(key_of("bought", k), "buy");
    CHECK_EQ_STR(key_of("children", k), "child");
    CHECK_EQ_STR(key_of("mice", k), "mouse");
    CHECK_EQ_STR(key_of("octopi", k), "octopus");
    CHECK_EQ_STR(key_of("octopuses", k), "octopus");
    CHECK_EQ_STR(key_of("feet", k), "foot");
    CHECK(same_key("grew", "growing"));
    CHECK(!same_key("grew", "green"));
}

TEST(wordnet_lemmas_of_es_ies_plurals_and_comparatives)
{
    char k[TEXT_KEY_MAX + 1];
    CHECK_EQ_STR(key_of("boxes", k), "box");
    CHECK_EQ_STR(key_of("churches", k), "church");
    CHECK_EQ_STR(key_of("cities", k), "city");
    CHECK_EQ_STR(key_of("stories", k), "story");
    CHECK_EQ_STR(key_of("glasses", k), "glass");
    CHECK_EQ_STR(key_of("taller", k), "tall");
    CHECK_EQ_STR(key_of("biggest", k), "big");
    CHECK_EQ_STR(key_of("happier", k), "happy");
    CHECK_EQ_STR(key_of("named", k), "name");
    CHECK_EQ_STR(key_of("planting", k), "plant");
    /* another word altogether is not a form of this one: "best" must not meet every "good" */
    CHECK(!same_key("better", "good"));
    CHECK(!same_key("worst", "bad"));
    /* a lemma of its own that looks inflected stays itself when it is the commoner word */
    CHECK_EQ_STR(key_of("gas", k), "gas");
    CHECK_EQ_STR(key_of("news", k), "news");
    CHECK_EQ_STR(key_of("bus", k), "bus");
    /* a detached base counts as the part of speech of its rule: "scared" is scare (the verb,
     * whose synset is frighten's), not scar (a noun first); "building" still build */
    CHECK_EQ_STR(key_of("scared", k), "scare");
    CHECK(same_key("frightened", "frighten"));
    CHECK_EQ_STR(key_of("building", k), "build");
    CHECK_EQ_STR(key_of("scariest", k), "scary");
    CHECK(same_key("living", "lived"));
    CHECK(related("scare", "frighten", 0));
}

TEST(wordnet_unknown_words_lose_only_a_plural_s)
{
    char k[TEXT_KEY_MAX + 1];
    CHECK_EQ_STR(key_of("Caroline", k), "caroline");
    CHECK_EQ_STR(key_of("lgbtq", k), "lgbtq");
    CHECK(same_key("Pokemons", "pokemon"));
    CHECK_EQ_STR(key_of("1984", k), "1984");
}

TEST(wordnet_related_words_are_synonyms_then_hypernyms)
{
    CHECK(related("film", "movie", 0));
    CHECK(related("movie", "film", 0));
    CHECK(related("grandma", "grandmother", 0));
    CHECK(related("job", "occupation", 0));
    CHECK(related("dad", "father", 1));
    CHECK(related("medal", "award", 1));
    /* a word WordNet never tagged in a sense still has its synsets: mom → mother */
    CHECK(related("mom", "mother", -1));
    /* the same word in another part of speech, by WordNet's derivational links */
    CHECK(related("song", "sing", 0));
    CHECK(related("die", "death", 0));
    /* a phrase: its synonyms that mean it in their own most frequent senses (not "go", "pass") */
    CHECK(related("pass_away", "die", 0));
    CHECK(!related("pass_away", "go", -1));
    CHECK(!related("film", "film", -1));
    /* only the part of speech a word is mostly used as: "father" is not the verb that means
     * "mother", "went" not the noun "go" (a drug) */
    CHECK(!related("father", "mother", -1));
    CHECK(!related("go", "ecstasy", -1));
    CHECK_EQ_INT(wordnet_related("zzqx", 4, NULL, NULL, 0), 0);
}

/* 1 when the entry of several words (its keys joined by spaces) is among those related to key. */
static int related_phrase(const char *key, const char *phrase)
{
    char out[TEXT_RELATED_MAX][TEXT_KEY_MAX];
    int n = text_related_phrases(key, strlen(key), out, TEXT_RELATED_MAX);
    for (int i = 0; i < n; i++)
        if (!strcmp(out[i], phrase))
            return 1;
    return 0;
}

TEST(wordnet_related_entries_of_several_words_are_keyed_word_by_word)
{
    /* the named kinds of a medal, past the first eight narrower entries */
    CHECK(related_phrase("medal", "bronze star"));
    CHECK(related_phrase("medal", "purple heart"));
    /* a synonym of several words, its words keyed as text is ("line of work") */
    CHECK(related_phrase("job", "line of work"));
    /* single words are wordnet_related's, never here */
    CHECK(!related_phrase("medal", "award"));
    char out[TEXT_RELATED_MAX][TEXT_KEY_MAX];
    CHECK_EQ_INT(text_related_phrases("zzqx", 4, out, TEXT_RELATED_MAX), 0);
}

TEST(wordnet_nouns_are_kinds_of_what_their_hypernyms_reach)
{
    static const char *const workers[] = {"worker", "professional", NULL};
    static const char *const persons[] = {"person", "relative", NULL};
    CHECK(wordnet_noun_is_a("nurse", 5, workers));
    CHECK(wordnet_noun_is_a("machinist", 9, workers));
    CHECK(wordnet_noun_is_a("teacher", 7, workers));
    CHECK(!wordnet_noun_is_a("dog", 3, workers));
    CHECK(!wordnet_noun_is_a("grandmother", 11, workers));
    CHECK(wordnet_noun_is_a("grandma", 7, persons));
    CHECK(wordnet_noun_is_a("sister", 6, persons));
    CHECK(!wordnet_noun_is_a("house", 5, persons));
    CHECK(!wordnet_noun_is_a("zzqx", 4, persons));
}

TEST(wordnet_nouns_in_a_kind_are_kinds_of_it_or_parts_of_one)
{
    static const char *const places[] = {"workplace", NULL};
    CHECK(wordnet_noun_in_a("shipyard", 8, places));
    CHECK(wordnet_noun_in_a("farm", 4, places));
    /* a mine is part of a colliery, a workplace: not a kind of workplace itself */
    CHECK(!wordnet_noun_is_a("mine", 4, places));
    CHECK(wordnet_noun_in_a("mine", 4, places));
    CHECK(!wordnet_noun_in_a("garden", 6, places));
    CHECK(!wordnet_noun_in_a("kitchen", 7, places));
    CHECK(!wordnet_noun_in_a("zzqx", 4, places));
}
