/* The legacy guard's judge: first-person claims weighed against the memories' words. */
#include <string.h>

#include "brain/claim_guard.h"
#include "../test.h"

static const char *const memories[] = {"Every summer we rowed across the lake to the island cabin",
                                       "I was born in Leeds in 1941", "A retired nurse from Leeds."};

static int judge(const char *reply, char *said, size_t cap)
{
    return claim_guard_unsupported(reply, memories, 3, said, cap);
}

TEST(claim_guard_catches_a_made_up_claim_and_names_it)
{
    char said[200];
    CHECK_EQ_INT(judge("Hello, love. I grew up in Lisbon and sailed every morning. Do you sail?", said, sizeof said),
                 1);
    CHECK_EQ_STR(said, "I grew up in Lisbon and sailed every morning.");
    CHECK_EQ_INT(judge("My brother owned a bakery in Porto.", said, sizeof said), 1);
    CHECK_EQ_INT(judge("We moved to Canada after the war!", said, sizeof said), 1);
}

TEST(claim_guard_lets_supported_claims_by_word_key)
{
    char said[200];
    /* rowed ~ row, summers ~ summer: word keys, not exact words */
    CHECK_EQ_INT(judge("We rowed to the cabin on the island every summer.", said, sizeof said), 0);
    CHECK_EQ_STR(said, "");
    CHECK_EQ_INT(judge("I was born in Leeds, you know. I worked as a nurse.", said, sizeof said), 0);
}

TEST(claim_guard_lets_questions_hedges_and_small_talk)
{
    char said[200];
    CHECK_EQ_INT(judge("Did I ever tell you about Lisbon and the fishing boats?", said, sizeof said), 0);
    CHECK_EQ_INT(judge("I don't remember whether I went to Lisbon or Porto.", said, sizeof said), 0);
    CHECK_EQ_INT(judge("I’m not sure I ever saw Lisbon, love.", said, sizeof said), 0);
    CHECK_EQ_INT(judge("I miss you.", said, sizeof said), 0);
    CHECK_EQ_INT(judge("The weather in Lisbon is lovely in spring.", said, sizeof said), 0); /* not about the speaker */
    CHECK_EQ_INT(judge("", said, sizeof said), 0);
}

TEST(claim_guard_without_support_every_claim_trips)
{
    char said[8];
    CHECK_EQ_INT(claim_guard_unsupported("We rowed across the lake.", NULL, 0, said, sizeof said), 1);
    CHECK_EQ_INT((int)strlen(said), 7); /* cut to the room given */
}
