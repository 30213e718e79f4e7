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

#endif
