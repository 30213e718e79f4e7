/* The personality profile of an avatar from its own words: the samples posted for training, the
 * text of media its owner marked as its own words (media.own_words), and its own lines in chat and
 * dialogue transcripts (the utterances whose speaker is the avatar). personality.c analyses them. */
#ifndef DP_PERSONALITY_STORE_H
#define DP_PERSONALITY_STORE_H

#include <jansson.h>

#include "core/id.h"

struct db;

#define PERSONALITY_INPUT_MAX (1u << 20) /* bytes of own words analysed at most */

/* The profile of avatar_id (personality_analyse's JSON plus "sources": how many samples, marked
 * media and transcripts fed it). Each hand-posted sample, each marked media item and each
 * transcript the avatar speaks in is one sample. *out is the caller's. DP_ERR_NOT_FOUND for no
 * such avatar, database errors, DP_ERR_NOMEM. */
int personality_profile(struct db *db, const char *avatar_id, json_t **out);

/* How the avatar says things, from its profile (for the recall brain's own framing): its most
 * used opening greeting word ("hey", "morning" …, into opening; "" when none) and its formality
 * score (0–1; 0.5 when unknown). DP_OK or the errors of personality_profile. */
int personality_voice(struct db *db, const char *avatar_id, char opening[32], double *formality);

/* Recomputes avatar_id's profile and stores it as its current one (avatar_profiles), as a new
 * sample does: after new evidence (personality_evidence.h). */
int personality_store_refresh(struct db *db, const char *avatar_id);

#define PERSONALITY_SAMPLES_MAX 200 /* samples kept per avatar */

/* Adds a training sample of avatar_id and recomputes its profile (stored in avatar_profiles), in
 * one transaction: the sample's id into id, the profile into *profile (the caller's).
 * DP_ERR_CONFLICT when the avatar has PERSONALITY_SAMPLES_MAX samples already. */
int personality_add_sample(struct db *db, const char *avatar_id, const char *text, char id[ID_LEN], json_t **profile);

#endif
