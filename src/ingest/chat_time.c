/* Chat export timestamps (see chat_time.h). */
#include "ingest/chat_time.h"

#include <string.h>

void chat_stamp_read(const char *s, size_t n, struct chat_stamp *out)
{
    memset(out, 0, sizeof *out);
    int num[6], digits[6], k = 0, pm = -1;
    size_t i = 0;
    while (i < n && (s[i] == '[' || s[i] == ' '))
        i++;
    while (i < n && k < 6) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            int v = 0, d = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9' && d < 5)
                v = v * 10 + (s[i++] - '0'), d++;
            num[k] = v;
            digits[k++] = d;
            continue;
        }
        if ((c == 'a' || c == 'A' || c == 'p' || c == 'P') && i + 1 < n && (s[i + 1] == 'm' || s[i + 1] == 'M'))
            pm = c == 'p' || c == 'P';
        else if (c == ']' || (c == '-' && k >= 5))
            break;
        i++;
    }
    while (i < n && pm < 0) { /* "2:22 PM]" after the last number read */
        if ((s[i] == 'a' || s[i] == 'A' || s[i] == 'p' || s[i] == 'P') && i + 1 < n &&
            (s[i + 1] == 'm' || s[i + 1] == 'M'))
            pm = s[i] == 'p' || s[i] == 'P';
        if (s[i] == ']' || s[i] == '-')
            break;
        i++;
    }
    if (k < 5)
        return;
    out->ymd = digits[0] == 4;
    out->year = out->ymd ? num[0] : num[2];
    out->a = out->ymd ? num[1] : num[0];
    out->b = out->ymd ? num[2] : num[1];
    if ((out->ymd ? digits[0] : digits[2]) == 2)
        out->year += 2000;
    out->hour = num[3];
    out->minute = num[4];
    out->second = k > 5 ? num[5] : 0;
    if (pm >= 0) {
        if (out->hour < 1 || out->hour > 12)
            return;
        out->hour = out->hour % 12 + (pm ? 12 : 0);
    }
    out->ok = out->year >= 1970 && out->year <= 2200 && out->hour < 24 && out->minute < 60 && out->second < 61;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t chat_stamp_ms(const struct chat_stamp *st, enum chat_date_order order)
{
    if (!st->ok)
        return 0;
    int month = st->ymd || order == CHAT_MDY ? st->a : st->b;
    int day = st->ymd || order == CHAT_MDY ? st->b : st->a;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(st->year, month))
        return 0;
    return ((days_from_civil(st->year, month, day) * 24 + st->hour) * 60 + st->minute) * 60000 + st->second * 1000;
}

enum chat_date_order chat_stamp_order(const struct chat_stamp *stamps, int n)
{
    int day_first = 0, month_first = 0;
    for (int i = 0; i < n; i++) {
        if (!stamps[i].ok || stamps[i].ymd)
            continue;
        day_first |= stamps[i].a > 12;
        month_first |= stamps[i].b > 12;
    }
    if (day_first != month_first)
        return day_first ? CHAT_DMY : CHAT_MDY;
    /* Nothing over 12 (or both: a broken file): the order in which the chat goes forward. */
    long back[2] = {0, 0};
    for (int o = 0; o < 2; o++) {
        int64_t last = 0;
        for (int i = 0; i < n; i++) {
            int64_t t = chat_stamp_ms(&stamps[i], o ? CHAT_MDY : CHAT_DMY);
            if (!t)
                continue;
            back[o] += t < last;
            last = t;
        }
    }
    return back[1] < back[0] ? CHAT_MDY : CHAT_DMY;
}
