/* Clocks and RFC 3339 formatting/parsing. */
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include "core/err.h"

/* How far tests moved the clocks (time_advance_ms); 0 in a server. */
static atomic_llong skew_ms;

void time_advance_ms(int64_t ms)
{
    atomic_fetch_add(&skew_ms, ms);
}

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load_explicit(&skew_ms, memory_order_relaxed);
}

double time_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
           (double)atomic_load_explicit(&skew_ms, memory_order_relaxed) / 1e3;
}

void time_rfc3339(int64_t ms, char out[RFC3339_LEN])
{
    /* The date and time to the second are formatted once a second per thread (gmtime_r and
     * strftime were a few thousand instructions of every stored chat message). */
    static _Thread_local time_t cached_s;
    static _Thread_local int cached_ok;
    static _Thread_local char cached[RFC3339_LEN];
    static _Thread_local size_t cached_n;
    time_t s = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0)
        frac += 1000, s--;
    if (!cached_ok || s != cached_s) {
        struct tm tm;
        gmtime_r(&s, &tm);
        /* strftime bounds every field, unlike printf of plain ints. */
        cached_n = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_s = s;
        cached_ok = 1;
    }
    size_t n = cached_n + 6 > RFC3339_LEN ? RFC3339_LEN - 6 : cached_n; /* a year past 9999: cut */
    memcpy(out, cached, n);
    char *p = out + n;
    p[0] = '.';
    p[1] = (char)('0' + frac / 100);
    p[2] = (char)('0' + frac / 10 % 10);
    p[3] = (char)('0' + frac % 10);
    p[4] = 'Z';
    p[5] = 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int time_parse_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return DP_ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return DP_ERR_INVALID;
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0, scale = 100;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                frac_ms += (*p - '0') * scale, scale /= 10;
            n++, p++;
        }
        if (!n)
            return DP_ERR_INVALID;
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return DP_ERR_INVALID;
        off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return DP_ERR_INVALID;
    }
    if (*p)
        return DP_ERR_INVALID;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return DP_OK;
}
