/* Personality profiles from text samples, without a language model: transparent heuristics
 * (documented in personality.c) that say which evidence produced each score. */
#ifndef DP_PERSONALITY_H
#define DP_PERSONALITY_H

#include <jansson.h>
#include <stddef.h>

#define PERSONALITY_SAMPLE_MAX (100 * 1024) /* bytes of one sample */
#define PERSONALITY_SAMPLES_FULL 4          /* samples for 100 % progress */
#define PERSONALITY_METHOD "heuristic-v1"

/* Analyses samples[0..n) (UTF-8 texts) into {progress, samples, method, style, traits}.
 * Deterministic: the same samples give the same profile. NULL only when out of memory. */
json_t *personality_analyse(const char *const *samples, int n);

/* Just what the recall brain's framing needs of samples[0..n), without the costly statistics
 * (phrases, vocabulary): the formality score personality_analyse would give (0.5 with no words)
 * and the greeting word lines open with most ("" when none; ties: alphabetical). */
void personality_voice_of(const char *const *samples, int n, char opening[32], double *formality);

#endif
