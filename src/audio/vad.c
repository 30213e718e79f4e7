/* Voice activity detection: level above a tracked noise floor, voicing by normalised
 * autocorrelation at pitch lags, an onset needing a minimum voiced length and a hangover. */
#include "audio/vad.h"

#include <math.h>
#include <string.h>

const struct vad_config vad_defaults = {100, 240, 9.0};

#define FLOOR_MIN_DB -75.0 /* digital silence stays this loud for the floor */
#define LEVEL_MIN_DB -50.0 /* quieter than this is never speech */
#define FLOOR_RISE_DB 0.1  /* per unvoiced frame: steady noise is learnt within a second or so */
#define VOICING_MIN 0.45   /* normalised autocorrelation of a voiced frame */
#define ONSET_GAP_MAX 5    /* unvoiced frames an onset run may hold (consonants between vowels) */

void vad_init(struct vad *v, const struct vad_config *cfg)
{
    memset(v, 0, sizeof *v);
    v->cfg = cfg ? *cfg : vad_defaults;
    v->floor_db = -60.0;
    v->last_voiced = -1;
}

static double level_db(const int16_t *p, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++)
        e += (double)p[i] * p[i];
    e /= n;
    return 10.0 * log10(e / (32768.0 * 32768.0) + 1e-12);
}

/* Whether lag of x (n samples, energies in prefix sums sq) correlates at least VOICING_MIN. */
static int voiced_at(const double *x, const double *sq, int n, int lag)
{
    double xy = 0, xx = sq[n - lag], yy = sq[n] - sq[lag];
    for (int i = 0; i + lag < n; i++)
        xy += x[i] * x[i + lag];
    return xx > 0 && yy > 0 && xy >= VOICING_MIN * sqrt(xx * yy);
}

/* Whether the last 30 ms (at 8 kHz, by pairs) are voiced: a normalised autocorrelation of at
 * least VOICING_MIN at some lag of a 60–400 Hz pitch — near 1 for a vowel, low for noise. The
 * energies of both windows come from prefix sums and the search stops at the first voiced lag:
 * the cost per frame of every device stream and voice session (capture runs it on each one).
 * A voice's pitch moves little from one 10 ms frame to the next, so the lags around the last
 * voiced frame's (*hint) are tried first: a vowel is found in a few lags instead of dozens. The
 * answer is the same (any voiced lag will do); only the order of the search changes. */
static int voiced_frame(const int16_t *h, int *hint)
{
    enum { N = 3 * VAD_FRAME / 2, LAG_MIN = 8000 / 400, LAG_MAX = 8000 / 60, NEAR = 2 };
    double x[N], sq[N + 1], prev = 0;
    /* Pre-emphasis flattens a rumble's spectrum, whose slow swings would otherwise correlate
     * at short lags like a pitch. */
    sq[0] = 0;
    for (int i = 0; i < N; i++) {
        double d = ((double)h[2 * i] + h[2 * i + 1]) * 0.5;
        x[i] = d - 0.95 * prev;
        prev = d;
        sq[i + 1] = sq[i] + x[i] * x[i];
    }
    int lo = *hint - NEAR, hi = *hint + NEAR;
    if (*hint) {
        for (int lag = lo < LAG_MIN ? LAG_MIN : lo; lag <= (hi > LAG_MAX ? LAG_MAX : hi); lag++)
            if (voiced_at(x, sq, N, lag)) {
                *hint = lag;
                return 1;
            }
    }
    for (int lag = LAG_MIN; lag <= LAG_MAX; lag++) {
        if (*hint && lag >= lo && lag <= hi)
            continue; /* tried above */
        if (voiced_at(x, sq, N, lag)) {
            *hint = lag;
            return 1;
        }
    }
    *hint = 0;
    return 0;
}

enum vad_event vad_frame(struct vad *v, const int16_t *pcm)
{
    memmove(v->hist, v->hist + VAD_FRAME, sizeof v->hist - VAD_FRAME * sizeof *v->hist);
    memcpy(v->hist + 2 * VAD_FRAME, pcm, VAD_FRAME * sizeof *pcm);
    int64_t f = v->frames++;
    double db = level_db(pcm, VAD_FRAME);
    v->last_db = db;
    int loud = db > LEVEL_MIN_DB && db > v->floor_db + v->cfg.margin_db;
    int voiced = loud && voiced_frame(v->hist, &v->pitch_lag);
    v->last_voiced_flag = voiced;
    if (!voiced) {
        /* The floor follows quiet frames down at once and noise up slowly. */
        if (db < v->floor_db)
            v->floor_db = db < FLOOR_MIN_DB ? FLOOR_MIN_DB : db;
        else if (!loud || !v->in_speech)
            v->floor_db += db - v->floor_db < FLOOR_RISE_DB ? db - v->floor_db : FLOOR_RISE_DB;
    }
    int min_frames = v->cfg.min_speech_ms / 10, hang_frames = v->cfg.hangover_ms / 10;
    if (!v->in_speech) {
        if (voiced) {
            if (!v->run_voiced)
                v->run_start = f;
            v->run_voiced++;
            v->run_gap = 0;
        } else if (v->run_voiced && ++v->run_gap > ONSET_GAP_MAX) {
            v->run_voiced = v->run_gap = 0;
        }
        if (v->run_voiced >= (min_frames > 0 ? min_frames : 1)) {
            v->in_speech = 1;
            v->start_frame = v->run_start;
            v->voiced_ms = v->run_voiced * 10;
            v->last_voiced = f;
            v->silent = 0;
            v->run_voiced = v->run_gap = 0;
            return VAD_START;
        }
        return VAD_NONE;
    }
    if (voiced) {
        v->voiced_ms += 10;
        v->last_voiced = f;
        v->silent = 0;
        return VAD_NONE;
    }
    if (++v->silent >= hang_frames) {
        v->in_speech = 0;
        return VAD_STOP;
    }
    return VAD_NONE;
}
