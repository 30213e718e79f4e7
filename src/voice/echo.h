/* Is what the microphone hears the avatar's own voice coming back? On 10 ms levels: while the
 * incoming level contour follows the reply's syllables closely at one steady delay (up to 0.8
 * second), that delay and the echo's loss are learnt; then a frame is echo when it is no louder than the
 * reply's level at that delay less that loss, give or take 6 dB — a person talking over the reply
 * is louder than that (a double-talk detector, as echo cancellers have). Until the path is known, a
 * frame is echo when it is 3 dB below the reply's loudest recent frame (Geigel's test) for the first
 * second of the reply speaking, by when an echo there is has been learnt; after that 20 dB (what a
 * client's echo cancellation leaves). Clients should cancel
 * echo themselves; this is the check behind it, so that a reply never interrupts itself. */
#ifndef DP_ECHO_H
#define DP_ECHO_H

#include <stddef.h>
#include <stdint.h>

#define ECHO_WINDOW 40    /* incoming frames compared: 400 ms */
#define ECHO_MAX_DELAY 80 /* frames of delay tried: 800 ms (a loaded client plays late) */

struct echo {
    float *ref; /* the reply's level per 10 ms, dBFS, by its offset in the reply */
    int nref, cap;
    double acc;              /* the frame being summed */
    int acc_n, frame_n;      /* samples in it / of a frame at the reply's rate */
    float mic[ECHO_WINDOW];  /* incoming levels, newest last */
    int mic_at[ECHO_WINDOW]; /* the reply frame being played when each came */
    int nmic;
    int heard;              /* incoming frames heard while the reply was speaking */
    int delay;              /* learnt echo delay, frames; -1: not known */
    int cand_delay, cand_n; /* the delay of the last close match, and how many in a row */
    float loss_db;          /* learnt reply level minus echo level */
};

/* Starts over for a reply at rate Hz. */
void echo_reset(struct echo *e, int rate);
void echo_cleanup(struct echo *e);
/* Adds the reply's next samples (as synthesized, in order). DP_ERR_NOMEM. */
int echo_add_reply(struct echo *e, const int16_t *pcm, size_t n);
/* Records one incoming 10 ms frame of level db heard while reply frame at (its offset / 10 ms)
 * was being played. */
void echo_add_mic(struct echo *e, float db, int at);
/* 1 when the latest incoming frame is explained by the reply's echo (learning the echo path). */
int echo_heard(struct echo *e);

#endif
