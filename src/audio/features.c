/* Voice features. Pitch: YIN (de Cheveigné & Kawahara 2002) on 40 ms windows every 10 ms, octave
 * jumps removed with a median. Speech frames: above a threshold between the noise floor and the
 * loud end (as the transcriber cuts). Speaking rate: the centroid of the loudness envelope's
 * modulation spectrum in the syllable band (1.5–10 Hz), in syllables per second. MFCC: 26 mel bands,
 * 25 ms Hamming windows, DCT-II, means over speech frames. */
#include "audio/features.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOP 160 /* 10 ms */
#define F0_MIN 60.0
#define F0_MAX 500.0
#define YIN_TAU_MAX (FEATURES_RATE / 60 + 1) /* lowest pitch */
#define YIN_TAU_MIN (FEATURES_RATE / 500)    /* highest pitch */
#define YIN_W 400                            /* integration window, 25 ms */
#define MFCC_WIN 400
#define MFCC_FFT 512
#define MEL_BANDS 26

double features_yin(const int16_t *x, size_t len)
{
    if (len < (size_t)(YIN_W + YIN_TAU_MAX))
        return 0;
    double d[YIN_TAU_MAX + 1], cum = 0;
    d[0] = 1;
    for (int tau = 1; tau <= YIN_TAU_MAX; tau++) {
        double s = 0;
        for (int j = 0; j < YIN_W; j++) {
            double diff = (double)x[j] - x[j + tau];
            s += diff * diff;
        }
        cum += s;
        d[tau] = cum > 0 ? s * tau / cum : 1; /* cumulative mean normalised difference */
    }
    int best = 0;
    for (int tau = YIN_TAU_MIN; tau <= YIN_TAU_MAX; tau++)
        if (d[tau] < 0.15) {
            while (tau + 1 <= YIN_TAU_MAX && d[tau + 1] < d[tau])
                tau++;
            best = tau;
            break;
        }
    if (!best)
        return 0;
    double t = best;
    if (best > 1 && best < YIN_TAU_MAX) { /* parabolic interpolation of the dip */
        double a = d[best - 1], b = d[best], c = d[best + 1], den = a - 2 * b + c;
        if (den > 0)
            t = best + 0.5 * (a - c) / den;
    }
    double f0 = FEATURES_RATE / t;
    return f0 >= F0_MIN && f0 <= F0_MAX ? f0 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A plain DFT of 257 bins (profiles are short: no FFT library needed), its tables made once. */
static double win[MFCC_WIN], cosv[MFCC_FFT / 2 + 1][MFCC_WIN], sinv[MFCC_FFT / 2 + 1][MFCC_WIN];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    for (int i = 0; i < MFCC_WIN; i++) {
        win[i] = 0.54 - 0.46 * cos(2 * M_PI * i / (MFCC_WIN - 1));
        for (int k = 0; k <= MFCC_FFT / 2; k++) {
            cosv[k][i] = cos(2 * M_PI * k * i / MFCC_FFT);
            sinv[k][i] = sin(2 * M_PI * k * i / MFCC_FFT);
        }
    }
}

/* Mel filterbank energies → 13 cepstra of one 25 ms frame. */
static void mfcc_frame(const int16_t *x, double out[FEATURES_MFCC])
{
    pthread_once(&tables_once, make_tables);
    double frame[MFCC_WIN], power[MFCC_FFT / 2 + 1];
    for (int i = 0; i < MFCC_WIN; i++)
        frame[i] = (i ? x[i] - 0.97 * x[i - 1] : x[i]) / 32768.0 * win[i]; /* pre-emphasis */
    for (int k = 0; k <= MFCC_FFT / 2; k++) {
        double re = 0, im = 0;
        for (int i = 0; i < MFCC_WIN; i++) {
            re += frame[i] * cosv[k][i];
            im -= frame[i] * sinv[k][i];
        }
        power[k] = re * re + im * im;
    }
    double mel_lo = 0, mel_hi = 2595 * log10(1 + 8000.0 / 700), bands[MEL_BANDS];
    for (int m = 0; m < MEL_BANDS; m++) {
        double edge[3];
        for (int e = 0; e < 3; e++) {
            double mel = mel_lo + (mel_hi - mel_lo) * (m + e) / (MEL_BANDS + 1);
            edge[e] = 700 * (pow(10, mel / 2595) - 1) * MFCC_FFT / FEATURES_RATE;
        }
        double s = 0;
        for (int k = (int)edge[0]; k <= (int)edge[2] && k <= MFCC_FFT / 2; k++) {
            double w = k < edge[1] ? (k - edge[0]) / (edge[1] - edge[0]) : (edge[2] - k) / (edge[2] - edge[1]);
            if (w > 0)
                s += w * power[k];
        }
        bands[m] = log(s + 1e-10);
    }
    for (int c = 0; c < FEATURES_MFCC; c++) {
        double s = 0;
        for (int m = 0; m < MEL_BANDS; m++)
            s += bands[m] * cos(M_PI * c * (m + 0.5) / MEL_BANDS);
        out[c] = s;
    }
}

void features_measure(const int16_t *pcm, size_t n, struct voice_features *out)
{
    memset(out, 0, sizeof *out);
    size_t nf = n / HOP;
    if (nf < 3)
        return;
    double *db = malloc(nf * sizeof *db), *sorted = malloc(nf * sizeof *sorted), *f0 = malloc(nf * sizeof *f0);
    double wsum = 0, psum = 0;
    if (!db || !sorted || !f0)
        goto out;
    for (size_t f = 0; f < nf; f++) {
        double s = 0;
        for (int i = 0; i < HOP; i++) {
            double v = pcm[f * HOP + i] / 32768.0;
            s += v * v;
        }
        db[f] = 10 * log10(s / HOP + 1e-10);
    }
    memcpy(sorted, db, nf * sizeof *db);
    qsort(sorted, nf, sizeof *sorted, cmp_double);
    double floor_db = sorted[nf / 10], peak = sorted[nf * 95 / 100];
    double thr = fmax(floor_db + fmax(6.0, (peak - floor_db) * 0.3), -50.0);
    size_t speech = 0, voiced = 0;
    double energy = 0;
    for (size_t f = 0; f < nf; f++) {
        f0[f] = 0;
        if (db[f] <= thr)
            continue;
        speech++;
        energy += db[f];
        size_t at = f * HOP;
        if (at + YIN_W + YIN_TAU_MAX <= n)
            f0[f] = features_yin(pcm + at, n - at);
        if (at + MFCC_WIN <= n) {
            double c[FEATURES_MFCC];
            mfcc_frame(pcm + at, c);
            for (int k = 0; k < FEATURES_MFCC; k++)
                out->mfcc[k] += c[k];
        }
    }
    /* Octave errors: a pitch far from the median of the voiced frames is dropped. */
    size_t nv = 0;
    for (size_t f = 0; f < nf; f++)
        if (f0[f] > 0)
            sorted[nv++] = f0[f];
    qsort(sorted, nv, sizeof *sorted, cmp_double);
    double median = nv ? sorted[nv / 2] : 0, sum = 0, sum2 = 0;
    for (size_t i = 0; i < nv; i++)
        if (sorted[i] > median * 0.6 && sorted[i] < median * 1.6) {
            sum += sorted[i];
            sum2 += sorted[i] * sorted[i];
            voiced++;
        }
    if (voiced) {
        out->f0_mean_hz = sum / voiced;
        out->f0_std_hz = sqrt(fmax(0, sum2 / voiced - out->f0_mean_hz * out->f0_mean_hz));
    }
    /* Syllables come and go with the loudness: the centroid of the envelope's modulation spectrum
     * between 1.5 and 10 Hz (where syllable rates lie) measures how fast the voice speaks. */
    double mean_env = 0;
    for (size_t f = 0; f < nf; f++) {
        sorted[f] = db[f] > thr ? db[f] - thr : 0; /* the envelope above the speech threshold */
        mean_env += sorted[f];
    }
    mean_env /= (double)nf;
    for (double hz = 1.5; hz <= 10.0; hz += 0.1) {
        double re = 0, im = 0, w = 2 * M_PI * hz / 100.0; /* frames are 100 per second */
        for (size_t f = 0; f < nf; f++) {
            re += (sorted[f] - mean_env) * cos(w * (double)f);
            im += (sorted[f] - mean_env) * sin(w * (double)f);
        }
        double p = re * re + im * im;
        wsum += p * hz;
        psum += p;
    }
    out->speech_s = speech * (double)HOP / FEATURES_RATE;
    out->voiced_s = voiced * (double)HOP / FEATURES_RATE;
    out->energy_db = speech ? energy / speech : 0;
    out->rate_sps = psum > 0 && speech ? wsum / psum : 0;
    for (int k = 0; k < FEATURES_MFCC; k++)
        out->mfcc[k] = speech ? out->mfcc[k] / speech : 0;
out:
    free(db);
    free(sorted);
    free(f0);
}
