/* What a voice sounds like, measured from 16 kHz mono PCM16: pitch (YIN), loudness, speaking rate
 * and timbre (MFCC means). Written here because aubio, which has them, is GPL. */
#ifndef DP_FEATURES_H
#define DP_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#define FEATURES_RATE 16000
#define FEATURES_MFCC 13

struct voice_features {
    double f0_mean_hz, f0_std_hz; /* over voiced frames; 0 when none */
    double energy_db;             /* mean level of speech frames, dBFS */
    double rate_sps;              /* syllables per second (loudness modulation centroid, 1.5–10 Hz) */
    double mfcc[FEATURES_MFCC];   /* means over speech frames (c0 … c12) */
    double speech_s;              /* seconds of speech (frames above the noise floor) */
    double voiced_s;              /* seconds with a pitch */
};

/* Measures n samples at FEATURES_RATE. */
void features_measure(const int16_t *pcm, size_t n, struct voice_features *out);

/* The pitch of one frame (YIN, threshold 0.15) between 60 and 500 Hz, or 0 when unvoiced. frame
 * holds at least 2 × FEATURES_RATE / 60 samples. */
double features_yin(const int16_t *frame, size_t len);

#endif
