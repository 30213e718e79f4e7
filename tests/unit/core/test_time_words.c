/* Unit tests of core/time_words.c: the words that say when, and questions that ask it. */
#include <string.h>

#include "../test.h"
#include "core/text.h"
#include "core/time_words.h"

static int month(const char *w)
{
    return text_month((const unsigned char *)w, strlen(w));
}

static int time_word(const char *w)
{
    return text_is_time_word((const unsigned char *)w, strlen(w));
}

TEST(time_words_months_weekdays_periods_and_years)
{
    CHECK_EQ_INT(month("March"), 3);
    CHECK_EQ_INT(month("december"), 12);
    CHECK_EQ_INT(month("Sept"), 9);
    CHECK_EQ_INT(month("May"), 5);
    CHECK_EQ_INT(month("may"), 0); /* the verb */
    CHECK_EQ_INT(month("mar"), 0); /* the verb */
    CHECK_EQ_INT(month("marching"), 0);
    CHECK(time_word("yesterday"));
    CHECK(time_word("Friday"));
    CHECK(time_word("weeks"));
    CHECK(time_word("2019"));
    CHECK(time_word("1987"));
    CHECK(!time_word("3019"));
    CHECK(!time_word("1234"));
    CHECK(!time_word("lake"));
    CHECK(!time_word("weekly"));
}

TEST(time_words_says_when_and_asks_when)
{
    CHECK(text_says_when("Dyed my hair last week - come see!"));
    CHECK(text_says_when("We moved to Porto in 2019."));
    CHECK(text_says_when("Two years ago, on a Sunday."));
    CHECK(!text_says_when("I whipped up some chocolate and vanilla swirl."));
    CHECK(!text_says_when("You may come."));
    CHECK(text_asks_when("When did Nate get purple hair?"));
    CHECK(text_asks_when("How long have Mel and her husband been married?"));
    CHECK(text_asks_when("In which year did you move?"));
    CHECK(text_asks_when("What date was the wedding?"));
    CHECK(!text_asks_when("What did Nate make for his friend?"));
    CHECK(!text_asks_when("How are you? Long story."));
}

TEST(time_words_relative_years_count_from_now)
{
    size_t from = 99, to = 99;
    const char *q = "What did you plant last year?";
    CHECK_EQ_INT(text_relative_year(q, 2026, 12, &from, &to), 2025);
    CHECK_EQ_INT((int)from, (int)(strstr(q, "last") - q));
    CHECK_EQ_INT((int)to, (int)(strstr(q, "year") - q + 4));
    CHECK_EQ_INT(text_relative_year("Where were you two years ago?", 2026, 12, &from, &to), 2024);
    CHECK_EQ_INT((int)from, 15);
    CHECK_EQ_INT(text_relative_year("Who visited 3 years ago", 2026, 1, NULL, NULL), 2023);
    CHECK_EQ_INT(text_relative_year("What happened a year ago?", 2026, 1, NULL, NULL), 2025);
    CHECK_EQ_INT(text_relative_year("Anything new this year?", 2026, 6, NULL, NULL), 2026);
    /* the last summer that has ended: in December this year's, in March last year's */
    CHECK_EQ_INT(text_relative_year("Where did you go last summer?", 2026, 12, NULL, NULL), 2026);
    CHECK_EQ_INT(text_relative_year("Where did you go last summer?", 2026, 3, NULL, NULL), 2025);
    /* not a year: winter spans two, a written year is a word of its own, "years" alone says none */
    CHECK_EQ_INT(text_relative_year("Was it cold last winter?", 2026, 3, NULL, NULL), 0);
    CHECK_EQ_INT(text_relative_year("Where did you live in 1962?", 2026, 3, NULL, NULL), 0);
    CHECK_EQ_INT(text_relative_year("Many years ago we met", 2026, 3, NULL, NULL), 0);
    CHECK_EQ_INT(text_relative_year("", 2026, 3, NULL, NULL), 0);
}

/* The word at index i of text (words as the toolkit splits them) checked by text_is_date_part
 * between its neighbours. */
static int date_part(const char *text, int i)
{
    const unsigned char *p = (const unsigned char *)text, *s[32];
    size_t len[32];
    int n = 0;
    while (n < 32 && (len[n] = text_next_word(&p, &s[n])))
        n++;
    return text_is_date_part(i ? s[i - 1] : NULL, i ? len[i - 1] : 0, s[i], len[i], i + 1 < n ? s[i + 1] : NULL,
                             i + 1 < n ? len[i + 1] : 0);
}

TEST(time_words_date_parts_month_and_day)
{
    const char *a = "What did Mel paint on October 13, 2023?"; /* What did Mel paint on October 13 2023 */
    CHECK(date_part(a, 5));
    CHECK(date_part(a, 6));
    CHECK(!date_part(a, 7)); /* a year is a word of its own */
    CHECK(!date_part(a, 3));
    const char *b = "Who came on 3 June"; /* Who came on 3 June */
    CHECK(date_part(b, 3));
    CHECK(date_part(b, 4));
    const char *c = "When did you go camping in June?";
    CHECK(date_part(c, 6));
    CHECK(!date_part("I have 3 cats", 1));          /* a number without a month */
    CHECK(!date_part("You may come in 3 days", 1)); /* the verb, lower case */
    CHECK(!date_part("He scored 45 in March", 2));  /* not a day of a month */
}
