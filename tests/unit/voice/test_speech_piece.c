/* Tests of src/voice/speech_piece: a reply cut for speech as the model writes it — the first clause
 * at once, sentences once something follows them, nothing cut that may still grow. */
#include <string.h>

#include "../test.h"
#include "voice/speech_piece.h"

static size_t cut(const char *p, int first, int more)
{
    return speech_piece_len(p, 399, first, more);
}

TEST(speech_piece_first_clause_at_once)
{
    CHECK_EQ_INT((int)cut("We rowed home,", 1, 1), 14); /* the model wrote no more yet */
    CHECK_EQ_INT((int)cut("We rowed home, and the lake", 1, 1), 14);
    CHECK_EQ_INT((int)cut("We rowed home; then", 1, 1), 14);
    CHECK_EQ_INT((int)cut("Yes, we rowed home.", 1, 1), 0); /* too short a clause: the sentence */
    CHECK_EQ_INT((int)cut("Yes, we rowed home. And", 1, 1), 19);
    CHECK_EQ_INT((int)cut("It cost 1,", 1, 1), 0); /* may be 1,000 */
    CHECK_EQ_INT((int)cut("It cost 1,000 pounds, then", 1, 1), 21);
    CHECK_EQ_INT((int)cut("We rowed home, and the lake", 0, 1), 0); /* later pieces are sentences */
}

TEST(speech_piece_sentence_whole_once_followed)
{
    CHECK_EQ_INT((int)cut("The lake was still.", 0, 1), 0);
    CHECK_EQ_INT((int)cut("The lake was still. Every", 0, 1), 19);
    CHECK_EQ_INT((int)cut("I met Mr.", 0, 1), 0); /* "Mr." may go on */
    CHECK_EQ_INT((int)cut("I met Mr. Smith there. He", 0, 1), 22);
    CHECK_EQ_INT((int)cut("It was 3.", 0, 1), 0);           /* may be 3.5 */
    CHECK_EQ_INT((int)cut("The lake was still", 0, 0), 18); /* the end: whatever is left */
    CHECK_EQ_INT((int)cut("The lake was still.", 0, 0), 19);
    CHECK_EQ_INT((int)cut("Short, and done.", 1, 0), 16); /* "Short," is below the minimum */
}

TEST(speech_piece_long_text_cut_at_max_never_inside_a_character)
{
    char t[64];
    memset(t, 'a', sizeof t - 1);
    t[sizeof t - 1] = 0;
    CHECK_EQ_INT((int)speech_piece_len(t, 20, 0, 1), 20); /* no end in sight: cut at max */
    CHECK_EQ_INT((int)speech_piece_len("abc", 20, 0, 1), 0);
    const char *accents = "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9"; /* café café café */
    CHECK_EQ_INT((int)speech_piece_len(accents, 4, 0, 1), 3);    /* not between the bytes of é */
}
