/* The echo check: Pearson correlation of level contours over a window, at the best delay. */
#include "voice/echo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define ECHO_MIN_CORR 0.7
#define ECHO_QUIET_DB -90.0f /* the reply's level before it starts */
#define ECHO_MIN_SPREAD_DB 3.0 /* a flat reply contour says nothing */

void echo_reset(struct echo *e, int rate)
{
    float *ref = e->ref;
    int cap = e->cap;
    memset(e, 0, sizeof *e);
    e->ref = ref;
    e->cap = cap;
    e->frame_n = rate / 100;
}

void echo_cleanup(struct echo *e)
{
    free(e->ref);
    memset(e, 0, sizeof *e);
}

int echo_add_reply(struct echo *e, const int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        e->acc += (double)pcm[i] * pcm[i];
        if (++e->acc_n < e->frame_n)
            continue;
        if (e->nref == e->cap) {
            int cap = e->cap ? 2 * e->cap : 1024;
            float *r = realloc(e->ref, (size_t)cap * sizeof *r);
            if (!r)
                return DP_ERR_NOMEM;
            e->ref = r;
            e->cap = cap;
        }
        e->ref[e->nref++] = (float)(10.0 * log10(e->acc / e->acc_n / (32768.0 * 32768.0) + 1e-9));
        e->acc = 0;
        e->acc_n = 0;
    }
    return DP_OK;
}

void echo_add_mic(struct echo *e, float db, int at)
{
    if (e->nmic == ECHO_WINDOW) {
        memmove(e->mic, e->mic + 1, (ECHO_WINDOW - 1) * sizeof *e->mic);
        memmove(e->mic_at, e->mic_at + 1, (ECHO_WINDOW - 1) * sizeof *e->mic_at);
        e->nmic--;
    }
    e->mic[e->nmic] = db;
    e->mic_at[e->nmic++] = at;
}

static float ref_at(const struct echo *e, int i)
{
    return i >= 0 && i < e->nref ? e->ref[i] : ECHO_QUIET_DB;
}

int echo_matches(const struct echo *e)
{
    int n = e->nmic;
    if (n < ECHO_WINDOW / 2)
        return 0;
    double mx = 0, sxx = 0;
    for (int i = 0; i < n; i++)
        mx += e->mic[i];
    mx /= n;
    for (int i = 0; i < n; i++)
        sxx += (e->mic[i] - mx) * (e->mic[i] - mx);
    if (sxx <= 0)
        return 0;
    for (int d = 0; d <= ECHO_MAX_DELAY; d++) {
        double my = 0, syy = 0, sxy = 0, lo = 1e9, hi = -1e9;
        for (int i = 0; i < n; i++) {
            double y = ref_at(e, e->mic_at[i] - d);
            my += y;
            lo = y < lo ? y : lo;
            hi = y > hi ? y : hi;
        }
        if (hi - lo < ECHO_MIN_SPREAD_DB)
            continue;
        my /= n;
        for (int i = 0; i < n; i++) {
            double y = ref_at(e, e->mic_at[i] - d) - my;
            syy += y * y;
            sxy += (e->mic[i] - mx) * y;
        }
        if (syy > 0 && sxy / sqrt(sxx * syy) >= ECHO_MIN_CORR)
            return 1;
    }
    return 0;
}
