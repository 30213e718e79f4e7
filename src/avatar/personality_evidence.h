/* Personality evidence from LLM extraction (--llm-extract): the traits the model saw in what it
 * read for facts (brain/extract.h extract_parse_traits), stored with where they were read, and
 * blended into the heuristic profile (personality_store.h) each time it is computed.
 *
 * The profile is derived, never edited by hand (the card's personality text is the owner's and no
 * extraction touches it), so nothing the owner wrote can be overwritten: the heuristic score stays
 * beside the blend (traits.T.heuristic_score) and the model's part is shown with its evidence. */
#ifndef DP_PERSONALITY_EVIDENCE_H
#define DP_PERSONALITY_EVIDENCE_H

#include <jansson.h>

struct db;
struct memory_source;

#define PERSONALITY_EVIDENCE_MAX 2000 /* evidence rows kept per avatar; more are not stored */
#define PERSONALITY_EVIDENCE_SHOWN 3  /* quotes of a trait shown in the profile, newest first */

/* Stores traits (extract_parse_traits items) of avatar_id read from source (its media_id or
 * conversation_id and message_ids; NULL: neither). The same words for the same trait again add
 * nothing (a re-run of an extraction). *added: rows stored. */
int personality_evidence_add(struct db *db, const char *avatar_id, json_t *traits, const struct memory_source *source,
                             int *added);

/* Blends avatar_id's evidence into profile (personality_analyse's JSON): a trait with k pieces of
 * evidence of mean m, whose heuristic score h came from s own-word samples, scores
 * (h·s + m·k) / (s + k) — the model's reading counts as much as k samples —, keeps h as
 * heuristic_score and shows {score: m, evidence: k, quotes} as "model"; sources.model_evidence
 * counts them all. */
int personality_evidence_blend(struct db *db, const char *avatar_id, json_t *profile);

#endif
