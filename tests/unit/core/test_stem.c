/* Snowball stems by language and the guess of a text's language (core/stem.c). */
#include <string.h>

#include "../test.h"
#include "core/stem.h"

static int same(enum text_lang lang, const char *a, const char *b)
{
    char ka[TEXT_KEY_MAX], kb[TEXT_KEY_MAX];
    size_t na = text_word_key_in(lang, (const unsigned char *)a, strlen(a), ka);
    size_t nb = text_word_key_in(lang, (const unsigned char *)b, strlen(b), kb);
    return na == nb && !memcmp(ka, kb, na);
}

TEST(stem_german_with_umlauts_and_sharp_s)
{
    CHECK(same(LANG_DE, "H\xc3\xa4user", "Haus"));   /* Häuser */
    CHECK(same(LANG_DE, "H\xc3\xa4user", "hauser")); /* typed without the umlaut */
    CHECK(same(LANG_DE, "Geschichten", "Geschichte"));
    CHECK(same(LANG_DE, "Gro\xc3\x9fvater", "GROSSVATER")); /* ß */
    CHECK(!same(LANG_DE, "Haus", "Hund"));
}

TEST(stem_spanish_and_french_with_accents)
{
    CHECK(same(LANG_ES, "canciones", "canci\xc3\xb3n")); /* canción */
    CHECK(same(LANG_ES, "canci\xc3\xb3n", "cancion"));
    CHECK(same(LANG_ES, "abuelos", "abuelo"));
    CHECK(same(LANG_ES, "cocinaba", "cocinar"));
    CHECK(same(LANG_FR, "mang\xc3\xa9", "manger"));   /* mangé */
    CHECK(same(LANG_FR, "\xc3\xa9t\xc3\xa9", "ete")); /* été */
    CHECK(same(LANG_FR, "jardins", "jardin"));
}

TEST(stem_english_is_the_wordnet_key)
{
    char a[TEXT_KEY_MAX], b[TEXT_KEY_MAX];
    size_t na = text_word_key_in(LANG_EN, (const unsigned char *)"children", 8, a);
    size_t nb = text_word_key((const unsigned char *)"children", 8, b);
    CHECK(na == nb && !memcmp(a, b, na));
}

TEST(stem_language_is_guessed_from_function_words)
{
    long c[LANG_COUNT] = {0};
    text_lang_count("Der Großvater erzählte uns jeden Abend eine Geschichte, und wir waren still. Das war "
                    "schön und die Nacht ist lang.",
                    c);
    CHECK_EQ_INT(text_lang_pick(c), LANG_DE);
    memset(c, 0, sizeof c);
    text_lang_count("Mi abuela cocinaba los domingos y la casa olía a pan. Fue muy feliz con su familia y "
                    "los niños.",
                    c);
    CHECK_EQ_INT(text_lang_pick(c), LANG_ES);
    memset(c, 0, sizeof c);
    text_lang_count("Nous avons passé les étés dans le jardin de ma grand-mère, et je pense qu'il est temps.", c);
    CHECK_EQ_INT(text_lang_pick(c), LANG_FR);
    memset(c, 0, sizeof c);
    text_lang_count("The farm was by the river and we had a dog that was afraid of the geese.", c);
    CHECK_EQ_INT(text_lang_pick(c), LANG_EN);
    memset(c, 0, sizeof c);
    text_lang_count("Die", c); /* too little to leave English */
    CHECK_EQ_INT(text_lang_pick(c), LANG_EN);
    CHECK_EQ_STR(text_lang_name(LANG_FR), "french");
}
