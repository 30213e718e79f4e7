/* Unit tests of brain/speakers.c: who said a memory, and the speakers a question names. */
#include <string.h>

#include "../test.h"
#include "brain/speakers.h"
#include "core/text.h"

static const char *label(const char *speaker, const char *kind, const char *text)
{
    static char out[48];
    speaker_label(speaker, kind, text, out, sizeof out);
    return out;
}

TEST(speakers_label_from_the_column_or_a_name_before_a_colon)
{
    CHECK_EQ_STR(label("Anna", "utterance", "Hi"), "Anna");
    CHECK_EQ_STR(label(NULL, "utterance", "Caroline: I went to the group."), "Caroline");
    CHECK_EQ_STR(label(NULL, "utterance", "Grandpa Joe: Hello"), "Grandpa Joe");
    CHECK_EQ_STR(label(NULL, "utterance", "Zoë O'Neil-Smith: Hello"), "Zoë O'Neil-Smith");
    CHECK_EQ_STR(label(NULL, "fact", "Caroline: I went to the group."), ""); /* only utterances */
    CHECK_EQ_STR(label(NULL, "utterance", "note: lower case"), "");
    CHECK_EQ_STR(label(NULL, "utterance", "At 10:30 we left"), "");
    CHECK_EQ_STR(label(NULL, "utterance", "Warning:no space"), "");
    CHECK_EQ_STR(label(NULL, "utterance", "One Two Three Four Five: too many words"), "");
    CHECK_EQ_STR(label(NULL, "utterance", "Caroline"), "");
    CHECK_EQ_STR(label(NULL, "utterance", ": no name"), "");
    CHECK_EQ_STR(label(NULL, "utterance", ""), "");
}

static int named(const struct speakers *sp, const char *word)
{
    char key[TEXT_KEY_MAX];
    size_t n = text_word_key((const unsigned char *)word, strlen(word), key);
    return speakers_named(sp, key, n);
}

TEST(speakers_are_numbered_once_and_named_by_any_word_of_their_label)
{
    static struct speakers sp;
    CHECK_EQ_INT(speakers_id(&sp, "Grandpa Joe", 11), 1);
    CHECK_EQ_INT(speakers_id(&sp, "Katie", 5), 2);
    CHECK_EQ_INT(speakers_id(&sp, "GRANDPA JOE", 11), 1); /* case does not make another speaker */
    CHECK_EQ_INT(speakers_id(&sp, "", 0), 0);
    CHECK_EQ_INT(named(&sp, "Joe"), 1);
    CHECK_EQ_INT(named(&sp, "grandpa"), 1);
    CHECK_EQ_INT(named(&sp, "Katie's"), 0); /* split at the apostrophe: "Katie" and "s" */
    CHECK_EQ_INT(named(&sp, "KATIE"), 2);
    CHECK_EQ_INT(named(&sp, "Anna"), 0);
}
