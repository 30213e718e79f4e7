/* Voice activity detection for 16 kHz mono PCM16, 10 ms frames: speech is a frame well above the
 * tracked noise floor that is voiced (periodic at a pitch) — steady noise raises the floor, a
 * click is too short to count. Speech starts after a minimum length of voiced frames and ends after
 * a hangover without any. Plain C, no allocation; one per stream. */
#ifndef DP_VAD_H
#define DP_VAD_H

#include <stdint.h>

#define VAD_RATE 16000
#define VAD_FRAME 160 /* samples: 10 ms */

struct vad_config {
    int min_speech_ms; /* voiced time before speech is said to start (a blip is shorter) */
    int hangover_ms;   /* unvoiced time after which speech is said to have stopped */
    double margin_db;  /* how far above the noise floor a frame must be */
};

/* The defaults the voice session uses: 100 ms, 240 ms, 9 dB. */
extern const struct vad_config vad_defaults;

enum vad_event { VAD_NONE, VAD_START, VAD_STOP };

struct vad {
    struct vad_config cfg;
    double floor_db;             /* the noise floor, dBFS */
    int16_t hist[3 * VAD_FRAME]; /* the last 30 ms, for the pitch check */
    int64_t frames;              /* frames seen */
    int in_speech;
    int run_voiced;                   /* voiced frames in the onset run being counted */
    int run_gap;                      /* unvoiced frames since the run's last voiced one */
    int64_t run_start;                /* frame of the run's first voiced frame */
    int silent;                       /* unvoiced frames since the last voiced one (in speech) */
    int64_t start_frame, last_voiced; /* the current (or last) speech segment */
    int voiced_ms;                    /* voiced time in the current segment */
    double last_db;                   /* the last frame's level, dBFS */
    int last_voiced_flag;             /* the last frame was voiced speech */
    int pitch_lag;                    /* the lag the last voiced frame correlated at (0: none) */
};

void vad_init(struct vad *v, const struct vad_config *cfg);

/* Takes the next 10 ms. VAD_START when speech has started (it began at v->start_frame),
 * VAD_STOP when it has stopped (its last voiced frame was v->last_voiced). */
enum vad_event vad_frame(struct vad *v, const int16_t *pcm);

/* Milliseconds from the stream's start to the start of frame f. */
static inline int64_t vad_frame_ms(int64_t f)
{
    return f * 10;
}

#endif
