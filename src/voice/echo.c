/* The echo check: Pearson correlation of level contours over a window, at the best delay. */
#include "voice/echo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define ECHO_MIN_DELAY 2        /* frames: playback and capture buffers take at least 20 ms */
#define ECHO_LEARN_CORR 0.9     /* a contour this close teaches the echo path … */
#define ECHO_LEARN_STEADY 10    /* … when it holds at one delay for this many frames in a row */
#define ECHO_SPEECH_DB -50.0    /* incoming frames compared: louder than this */
#define ECHO_LOSS_RISE_DB 0.05  /* per frame: how fast a learnt loss may grow */
#define ECHO_MARGIN_DB 6.0      /* an echo is within this of its learnt level */
#define ECHO_GEIGEL_LOSS_DB 3.0 /* before an echo could have been learnt (Geigel's test, at 3 dB) */
#define ECHO_LEARN_FRAMES 100   /* an echo there is has been learnt within 1 s of the reply speaking */
#define ECHO_AEC_LOSS_DB 20.0   /* no echo learnt by then: what a client's echo cancellation leaves */
#define ECHO_QUIET_DB -90.0f    /* the reply's level before it starts */
#define ECHO_MIN_SPREAD_DB 3.0  /* a flat reply contour says nothing */

void echo_reset(struct echo *e, int rate)
{
    float *ref = e->ref;
    int cap = e->cap;
    memset(e, 0, sizeof *e);
    e->ref = ref;
    e->cap = cap;
    e->frame_n = rate / 100;
    e->delay = e->cand_delay = -1;
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

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static float ref_at(const struct echo *e, int i)
{
    return i >= 0 && i < e->nref ? e->ref[i] : ECHO_QUIET_DB;
}

/* The delay (frames) at which the recent incoming contour follows the reply's best, and how well
 * (Pearson correlation; 0 when it cannot be told). Only frames loud enough to be speech take part,
 * so that the step from silence into someone's speech does not pass for any step of the reply. */
static double contour_match(const struct echo *e, int *delay)
{
    int n = 0, idx[ECHO_WINDOW];
    double best = 0;
    *delay = -1;
    for (int i = 0; i < e->nmic; i++)
        if (e->mic[i] > ECHO_SPEECH_DB)
            idx[n++] = i;
    if (n < ECHO_WINDOW / 2)
        return 0;
    double mx = 0, sxx = 0;
    for (int k = 0; k < n; k++)
        mx += e->mic[idx[k]];
    mx /= n;
    for (int k = 0; k < n; k++)
        sxx += (e->mic[idx[k]] - mx) * (e->mic[idx[k]] - mx);
    if (sxx <= 0)
        return 0;
    for (int d = ECHO_MIN_DELAY; d <= ECHO_MAX_DELAY; d++) {
        double my = 0, syy = 0, sxy = 0, lo = 1e9, hi = -1e9;
        for (int k = 0; k < n; k++) {
            double y = ref_at(e, e->mic_at[idx[k]] - d);
            my += y;
            lo = y < lo ? y : lo;
            hi = y > hi ? y : hi;
        }
        if (hi - lo < ECHO_MIN_SPREAD_DB)
            continue;
        my /= n;
        for (int k = 0; k < n; k++) {
            double y = ref_at(e, e->mic_at[idx[k]] - d) - my;
            syy += y * y;
            sxy += (e->mic[idx[k]] - mx) * y;
        }
        double r = syy > 0 ? sxy / sqrt(sxx * syy) : 0;
        if (r > best) {
            best = r;
            *delay = d;
        }
    }
    return best;
}

int echo_heard(struct echo *e)
{
    if (!e->nmic)
        return 0;
    int at = e->mic_at[e->nmic - 1], d;
    double mic = e->mic[e->nmic - 1], r = contour_match(e, &d);
    /* A close match at one delay, again and again: the echo alone. Two voices match by chance now
     * and then, never at a steady delay. */
    if (r >= ECHO_LEARN_CORR && d >= 0 && e->cand_delay >= 0 && abs(d - e->cand_delay) <= 1)
        e->cand_n++;
    else
        e->cand_n = 0;
    e->cand_delay = r >= ECHO_LEARN_CORR ? d : -1;
    if (e->cand_n >= ECHO_LEARN_STEADY) {
        /* Learn its delay, and its loss: the median of the window's loud frames — taken down at
         * once when the echo is louder, let up slowly, so that a doubt favours the echo. */
        float diff[ECHO_WINDOW];
        int k = 0;
        for (int i = 0; i < e->nmic; i++) {
            double y = ref_at(e, e->mic_at[i] - d);
            if (y > ECHO_SPEECH_DB && e->mic[i] > ECHO_SPEECH_DB)
                diff[k++] = (float)(y - e->mic[i]);
        }
        if (k >= ECHO_WINDOW / 4) {
            qsort(diff, (size_t)k, sizeof *diff, cmp_float);
            float loss = diff[k / 2];
            if (e->delay < 0 || loss < e->loss_db)
                e->loss_db = loss;
            else if (loss > e->loss_db + ECHO_LOSS_RISE_DB)
                e->loss_db += ECHO_LOSS_RISE_DB;
            e->delay = d;
        }
    }
    if (e->delay >= 0) {
        double expect = ECHO_QUIET_DB;
        for (int j = -2; j <= 2; j++) /* the delay drifts by a frame or two */
            if (ref_at(e, at - e->delay + j) > expect)
                expect = ref_at(e, at - e->delay + j);
        return mic <= expect - e->loss_db + ECHO_MARGIN_DB;
    }
    double loudest = ECHO_QUIET_DB;
    for (int j = 0; j <= ECHO_MAX_DELAY; j++)
        if (ref_at(e, at - j) > loudest)
            loudest = ref_at(e, at - j);
    if (loudest > ECHO_SPEECH_DB)
        e->heard++; /* the reply was speaking within the delay: an echo could have come */
    return mic <= loudest - (e->heard < ECHO_LEARN_FRAMES ? ECHO_GEIGEL_LOSS_DB : ECHO_AEC_LOSS_DB);
}
