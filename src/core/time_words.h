/* Words of English text that say when something happened: months, weekdays, "yesterday", "ago",
 * "last week", a year. A question asking "when" is answered by a memory that says when far more
 * often than by one that does not (on LoCoMo's conversations 79 % of the turns answering a "when"
 * question hold such a word, against 13 % of all turns), so search favours them for such questions. */
#ifndef DP_TIME_WORDS_H
#define DP_TIME_WORDS_H

#include <stddef.h>

/* The month (1–12) the word w[0..n) names ("March", "sept"), 0 for none. "May" counts only
 * capitalised (the verb is not a month). */
int text_month(const unsigned char *w, size_t n);

/* 1 when w[0..n) (one word, any case) says when on its own: a month, a weekday, yesterday, today,
 * tonight, tomorrow, ago, recently, a season, a period (week, weekend, month, year, in any
 * inflection) or a year from 1900 to 2099. */
int text_is_time_word(const unsigned char *w, size_t n);

/* 1 when the word w[0..n), between the words prev and next (NULL, 0 when none), is a month
 * (text_month) or the day beside one: "October 13", "3 June, 2023", "in June" (a year is a word of
 * its own). A question naming a date asks when something happened, not about the date's words:
 * the day a thing was said is rarely in what was said. */
int text_is_date_part(const unsigned char *prev, size_t plen, const unsigned char *w, size_t n,
                      const unsigned char *next, size_t nlen);

/* 1 when text (valid UTF-8) holds a time word. */
int text_says_when(const char *text);

/* 1 when the question q (valid UTF-8) asks when or how long: it holds the word "when", "how
 * long", or "what/which" before year, month, week, day, date or time. */
int text_asks_when(const char *q);

/* The calendar year the question q (valid UTF-8) names by a relative time, counted from now (now_year, now_month
 * 1–12): "last year", "this year", "two years ago" / "3 years ago", "last summer" (the last one
 * that has ended; spring, summer, autumn or fall — winter spans two years); 0 when it names none.
 * [*from, *to) (either may be NULL) gets the byte range of the expression in q. A year written
 * out ("in 1962") is a word of its own and not this. */
int text_relative_year(const char *q, int now_year, int now_month, size_t *from, size_t *to);

#endif
