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
