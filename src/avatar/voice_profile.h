/* An avatar's voice profile: measurements of its voice (audio/features.h) from training samples
 * and from its recordings marked as its own voice, averaged by seconds of speech. Replies are
 * synthesized with its pitch and rate. */
#ifndef DP_VOICE_PROFILE_H
#define DP_VOICE_PROFILE_H

#include <jansson.h>
#include <stdint.h>

#include "audio/features.h"
#include "core/id.h"

struct db;

#define VOICE_SAMPLES_READY 3     /* samples before the profile is ready (the legacy seed's flow) */
#define VOICE_SAMPLE_MIN_MS 3000  /* speech a sample must hold to count */
#define VOICE_SAMPLE_MAX_MS 60000 /* longer training recordings are refused (upload them as media) */

/* Stores the measurements of one sample of avatar_id's voice (media_id NULL: a training
 * recording; else that file's row, replacing the one it had). id_out (may be NULL) gets its id. */
int voice_profile_add(struct db *db, const char *avatar_id, const char *media_id, const struct voice_features *f,
                      char id_out[ID_LEN]);

/* {status: untrained|training|ready, progress (0–100), samples, speech_seconds, detail, and once
 * there is a sample: f0_mean_hz, f0_std_hz, energy_db, rate_sps, mfcc_means[13]}. */
int voice_profile_json(struct db *db, const char *avatar_id, json_t **out);

/* The averaged profile; *samples 0 when there is none (f untouched then). */
int voice_profile_get(struct db *db, const char *avatar_id, struct voice_features *f, int *samples);

/* {f0_mean_hz, …} of one sample, as stored and as answered. */
json_t *voice_features_json(const struct voice_features *f);

#endif
