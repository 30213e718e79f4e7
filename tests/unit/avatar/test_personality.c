/* Unit tests of the personality heuristics. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "avatar/personality.h"
#include "core/json.h"

static double trait(json_t *p, const char *name)
{
    return json_real_value(json_object_get(json_object_get(json_object_get(p, "traits"), name), "score"));
}

TEST(personality_progress_counts_samples)
{
    const char *s[] = {"Hello there.", "Second one.", "Third.", "Fourth.", "Fifth."};
    for (int n = 0; n <= 5; n++) {
        json_t *p = personality_analyse(s, n);
        int want = n >= 4 ? 100 : n * 25;
        CHECK_EQ_INT(json_integer_value(json_object_get(p, "progress")), want);
        CHECK_EQ_STR(json_string_value(json_object_get(p, "method")), PERSONALITY_METHOD);
        json_decref(p);
    }
}

TEST(personality_is_deterministic)
{
    const char *s[] = {"Hey! Gonna be great, haha. Love you!", "Why not? Thanks, dear."};
    json_t *a = personality_analyse(s, 2), *b = personality_analyse(s, 2);
    char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
    CHECK_EQ_STR(sa, sb);
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
}

TEST(personality_separates_formal_from_casual)
{
    const char *formal[] = {"Dear colleagues, I shall therefore present the results. However, the committee must "
                            "consequently reconsider. Furthermore, the budget is insufficient. Sincerely, Margaret."};
    const char *casual[] = {"hey!! gonna grab stuff lol, yeah it's cool haha 😂 wanna come? omg it's so fun!!"};
    json_t *f = personality_analyse(formal, 1), *c = personality_analyse(casual, 1);
    CHECK(trait(f, "formality") > 0.6);
    CHECK(trait(c, "formality") < 0.4);
    CHECK(trait(c, "enthusiasm") > trait(f, "enthusiasm"));
    CHECK(trait(c, "humour") > trait(f, "humour"));
    CHECK(trait(f, "verbosity") > trait(c, "verbosity"));
    /* Evidence is reported with each score. */
    json_t *ev = json_object_get(json_object_get(json_object_get(c, "traits"), "humour"), "evidence");
    CHECK(json_integer_value(json_object_get(ev, "laughter")) >= 2);
    json_decref(f);
    json_decref(c);
}

TEST(personality_finds_repeated_phrases_and_greetings)
{
    const char *s[] = {"Good morning sunshine! The old oak tree stood there.\nGood morning again. The old oak tree "
                       "was my favourite place.\nHello friend."};
    json_t *p = personality_analyse(s, 1);
    json_t *style = json_object_get(p, "style");
    char *phr = json_dumps(json_object_get(style, "phrases"), 0);
    CHECK(strstr(phr, "old oak tree") != NULL);
    CHECK(strstr(phr, "good morning") != NULL);
    free(phr);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(style, "greetings"), "hello")), 1);
    json_decref(p);
}

TEST(personality_numbers_are_rounded_for_display)
{
    const char *s[] = {"Well, I reckon the weather will turn. I have said so for years, and I was right twice! "
                       "Thanks, dear. Gonna rain?"};
    json_t *p = personality_analyse(s, 1);
    char *text = json_dump_display(p, NULL);
    /* No score or statistic shows more than 3 decimals. */
    for (const char *c = text; *c; c++)
        if (*c == '.' && c > text && c[-1] >= '0' && c[-1] <= '9') {
            int digits = 0;
            while (c[1 + digits] >= '0' && c[1 + digits] <= '9')
                digits++;
            CHECK(digits <= 3);
        }
    free(text);
    json_decref(p);
}
