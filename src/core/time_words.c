/* Time words (see time_words.h). */
#include "core/time_words.h"

#include <string.h>

#include "core/text.h"

static int in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list))
            return 1;
    return 0;
}

int text_month(const unsigned char *w, size_t n)
{
    static const char *const names[] = {"january", "february", "march",     "april",   "may",      "june",
                                        "july",    "august",   "september", "october", "november", "december"};
    static const char *const short_names[] = {"jan", "feb", "mar",  "apr", "may", "jun",
                                              "jul", "aug", "sept", "oct", "nov", "dec"};
    char low[16];
    if (!text_lower_ascii(w, n, low, sizeof low))
        return 0;
    for (int m = 0; m < 12; m++)
        if (!strcmp(low, names[m]) || (!strcmp(low, short_names[m]) && m != 2 && m != 4) ||
            (m == 8 && !strcmp(low, "sep")))
            return m == 4 && w[0] != 'M' ? 0 : m + 1;
    return 0;
}

/* 1 for a day of the month written in digits ("3", "13", "31"; "3rd" is "3" and "rd"). */
static int day_number(const unsigned char *w, size_t n)
{
    if (!w || n < 1 || n > 2 || w[0] < '0' || w[0] > '9' || (n == 2 && (w[1] < '0' || w[1] > '9')))
        return 0;
    int d = n == 2 ? (w[0] - '0') * 10 + (w[1] - '0') : w[0] - '0';
    return d >= 1 && d <= 31;
}

int text_is_date_part(const unsigned char *prev, size_t plen, const unsigned char *w, size_t n,
                      const unsigned char *next, size_t nlen)
{
    if (text_month(w, n))
        return 1;
    return day_number(w, n) && ((prev && text_month(prev, plen)) || (next && text_month(next, nlen)));
}

int text_is_time_word(const unsigned char *w, size_t n)
{
    static const char *const words[] = {"yesterday", "today",     "tonight",   "tomorrow", "ago",    "recently",
                                        "monday",    "tuesday",   "wednesday", "thursday", "friday", "saturday",
                                        "sunday",    "weekend",   "weekends",  "week",     "weeks",  "month",
                                        "months",    "year",      "years",     "summer",   "winter", "spring",
                                        "autumn",    "christmas", "easter",    "birthday", NULL};
    if (n == 4 && (w[0] == '1' || w[0] == '2') && (w[1] == '9' || w[1] == '0') && w[2] >= '0' && w[2] <= '9' &&
        w[3] >= '0' && w[3] <= '9')
        return 1;
    char low[16];
    return text_month(w, n) || (text_lower_ascii(w, n, low, sizeof low) && in_list(low, words));
}

int text_says_when(const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&p, &s));)
        if (text_is_time_word(s, len))
            return 1;
    return 0;
}

int text_asks_when(const char *q)
{
    static const char *const units[] = {"year", "month", "day", "date", "time", "week", NULL};
    const unsigned char *p = (const unsigned char *)q, *s;
    char prev[16] = "", low[16];
    for (size_t len; (len = text_next_word(&p, &s)); memcpy(prev, low, sizeof low)) {
        if (!text_lower_ascii(s, len, low, sizeof low))
            low[0] = 0;
        if (!strcmp(low, "when") || (!strcmp(low, "long") && !strcmp(prev, "how")) ||
            ((!strcmp(prev, "what") || !strcmp(prev, "which")) && in_list(low, units)))
            return 1;
    }
    return 0;
}

/* The number a word says: digits ("3") or an English number word up to twenty ("three"); 0 for
 * none. */
static int number_word(const char *w)
{
    static const char *const words[] = {"one",      "two",      "three",   "four",    "five",      "six",
                                        "seven",    "eight",    "nine",    "ten",     "eleven",    "twelve",
                                        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                                        "nineteen", "twenty",   NULL};
    if (w[0] >= '0' && w[0] <= '9' && strlen(w) <= 2 && strspn(w, "0123456789") == strlen(w))
        return (w[0] - '0') * (w[1] ? 10 : 1) + (w[1] ? w[1] - '0' : 0);
    if (!strcmp(w, "a") || !strcmp(w, "an"))
        return 1;
    for (int i = 0; words[i]; i++)
        if (!strcmp(w, words[i]))
            return i + 1;
    return 0;
}

/* The last month of a season ("summer" → 8), 0 for another word; winter, which spans two years,
 * is not a year's. */
static int season_end(const char *w)
{
    return !strcmp(w, "spring") ? 5 : !strcmp(w, "summer") ? 8 : !strcmp(w, "autumn") || !strcmp(w, "fall") ? 11 : 0;
}

int text_relative_year(const char *q, int now_year, int now_month, size_t *from, size_t *to)
{
    /* the last three words read, lower-cased, and where the first of them starts */
    char w[3][16] = {"", "", ""};
    size_t start[3] = {0, 0, 0};
    const unsigned char *p = (const unsigned char *)q, *s;
    for (size_t len; (len = text_next_word(&p, &s));) {
        memmove(w[0], w[1], sizeof w[0] * 2);
        memmove(start, start + 1, sizeof start[0] * 2);
        if (!text_lower_ascii(s, len, w[2], sizeof w[2]))
            w[2][0] = 0;
        start[2] = (size_t)(s - (const unsigned char *)q);
        size_t end = (size_t)(p - (const unsigned char *)q), n;
        int year = 0, first = 1;
        if (!strcmp(w[1], "last") && !strcmp(w[2], "year"))
            year = now_year - 1;
        else if (!strcmp(w[1], "this") && !strcmp(w[2], "year"))
            year = now_year;
        else if (!strcmp(w[1], "last") && season_end(w[2]))
            /* the last one that has ended: asked in December, this year's summer */
            year = now_month > season_end(w[2]) ? now_year : now_year - 1;
        else if (!strcmp(w[2], "ago") && (!strcmp(w[1], "years") || !strcmp(w[1], "year")) &&
                 (n = (size_t)number_word(w[0])))
            year = now_year - (int)n, first = 0;
        if (year > 0) {
            if (from)
                *from = start[first ? 1 : 0];
            if (to)
                *to = end;
            return year;
        }
    }
    return 0;
}
