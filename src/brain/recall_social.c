/* Social turns (see recall_social.h). */
#include "brain/recall_social.h"

#include <stddef.h>
#include <string.h>

enum social { NONE = 0, MISS, LOVE, THANKS, BYE, HOW_ARE_YOU };

static const struct {
    const char *phrase;
    enum social kind;
} phrases[] = {
    {"i miss you", MISS},
    {"miss you", MISS},
    {"missing you", MISS},
    {"i love you", LOVE},
    {"love you", LOVE},
    {"thank you", THANKS},
    {"thanks", THANKS},
    {"thank u", THANKS},
    {"thx", THANKS},
    {"goodbye", BYE},
    {"bye", BYE},
    {"good night", BYE},
    {"goodnight", BYE},
    {"see you", BYE},
    {"talk to you later", BYE},
    {"take care", BYE},
    {"see ya", BYE},
    {"how are you", HOW_ARE_YOU},
    {"how are you doing", HOW_ARE_YOU},
    {"hows it going", HOW_ARE_YOU},
    {"how have you been", HOW_ARE_YOU},
};

/* Replies, casual then formal. */
static const char *const replies[][2] = {
    [MISS] = {"I miss you too. I'm right here, talk to me.", "I miss you too. I am glad you came to talk to me."},
    [LOVE] = {"I love you too.", "I love you too."},
    [THANKS] = {"You're welcome.", "You are most welcome."},
    [BYE] = {"Bye for now. Come back and talk to me any time.", "Goodbye for now. Come back and talk to me any time."},
    [HOW_ARE_YOU] = {"I'm glad you're here. What would you like to talk about?",
                     "I am glad you are here. What would you like to talk about?"},
};

/* 1 when phrase occurs in msg as whole words. */
static int has_phrase(const char *msg, const char *phrase)
{
    size_t k = strlen(phrase);
    for (const char *at = strstr(msg, phrase); at; at = strstr(at + 1, phrase))
        if ((at == msg || at[-1] == ' ') && (at[k] == 0 || at[k] == ' '))
            return 1;
    return 0;
}

const char *recall_social_reply(const char *msg, int has_question, double formality)
{
    enum social found = NONE;
    for (size_t i = 0; i < sizeof phrases / sizeof *phrases && !found; i++)
        if (has_phrase(msg, phrases[i].phrase))
            found = phrases[i].kind;
    /* "Thanks! And where did you work?" asks something: the memories answer it. */
    if (!found || (has_question && found != HOW_ARE_YOU))
        return NULL;
    return replies[found][formality > 0.6];
}
