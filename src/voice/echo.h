/* Is what the microphone hears the avatar's own voice coming back? The level contour of the reply
 * being played (10 ms steps) is compared with the incoming one at delays up to half a second: an
 * echo follows the reply's syllables, a person talking over it does not. Clients should cancel
 * echo themselves; this is the check behind it, so that a reply never interrupts itself. */
#ifndef DP_ECHO_H
#define DP_ECHO_H

#include <stddef.h>
#include <stdint.h>

#define ECHO_WINDOW 40    /* incoming frames compared: 400 ms */
#define ECHO_MAX_DELAY 50 /* frames of delay tried: 500 ms */

struct echo {
    float *ref;          /* the reply's level per 10 ms, dBFS, by its offset in the reply */
    int nref, cap;
    double acc;          /* the frame being summed */
    int acc_n, frame_n;  /* samples in it / of a frame at the reply's rate */
    float mic[ECHO_WINDOW];  /* incoming levels, newest last */
    int mic_at[ECHO_WINDOW]; /* the reply frame being played when each came */
    int nmic;
};

/* Starts over for a reply at rate Hz. */
void echo_reset(struct echo *e, int rate);
void echo_cleanup(struct echo *e);
/* Adds the reply's next samples (as synthesized, in order). DP_ERR_NOMEM. */
int echo_add_reply(struct echo *e, const int16_t *pcm, size_t n);
/* Records one incoming 10 ms frame of level db heard while reply frame at (its offset / 10 ms)
 * was being played. */
void echo_add_mic(struct echo *e, float db, int at);
/* 1 when the recent incoming contour follows the reply's at some delay (correlation ≥ 0.7). */
int echo_matches(const struct echo *e);

#endif
