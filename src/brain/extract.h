/* LLM memory extraction: the text of an avatar's document becomes fact memories. A language model
 * (providers/llm.h) lists the facts a chunk of text states about the person; each candidate is then
 * checked against the avatar's fact memories: the same fact again changes nothing (NONE), one that
 * corrects or completes a similar memory replaces its text as a new version (UPDATE, reversible
 * through the memory's versions), anything else is added (ADD). A DELETE the model may propose is
 * not carried out: deleting is not reversible, and an extraction should never lose what a person
 * wrote down. Models, local ones most, often answer broken JSON: it is read strictly, then repaired
 * (code fences, prose around it, trailing commas), then read as a list of lines. */
#ifndef DP_EXTRACT_H
#define DP_EXTRACT_H

#include <jansson.h>
#include <stddef.h>

struct db;

#define EXTRACT_CHUNK_MAX 6000 /* bytes of text per model call */
#define EXTRACT_FACTS_MAX 32   /* facts kept per chunk */
#define EXTRACT_FACT_MAX 600   /* bytes of one fact */

#define EXTRACT_TRAITS_MAX 12    /* trait evidence kept per chunk */
#define EXTRACT_EVIDENCE_MAX 300 /* bytes of one piece of trait evidence */

enum extract_action { EXTRACT_NONE, EXTRACT_ADD, EXTRACT_UPDATE };

/* The traits the personality profile scores (avatar/personality.c), NULL-terminated: the only
 * ones trait evidence may name. */
extern const char *const extract_trait_names[];

/* The personality evidence in a model's answer (strict or repaired JSON): its "traits" array's
 * items {trait (one of extract_trait_names), score in [0, 1], evidence (non-empty, cut at
 * EXTRACT_EVIDENCE_MAX)}, at most EXTRACT_TRAITS_MAX; anything else dropped. Always an array
 * (owned; empty when there is none), NULL only when out of memory. */
json_t *extract_parse_traits(const char *reply, size_t len);

/* Reads a model's answer for facts: [{text, importance}] (owned), importance in [0, 1] (0.5 when
 * missing). *how: 0 strict JSON, 1 repaired JSON, 2 lines. DP_ERR_INVALID when nothing is usable. */
int extract_parse(const char *reply, size_t len, json_t **facts, int *how);

/* The passages or transcript utterances of media media_id, in order, joined into chunks of at
 * most EXTRACT_CHUNK_MAX bytes (a passage is never cut unless it alone is longer). *chunks: a JSON
 * array (owned) of {text} and, for utterances, the span of the media they cover {start_ms, end_ms},
 * when the first was said {occurred_at} when known, and the utterances themselves {lines: [{text,
 * start_ms, end_ms, occurred_at?}]}. */
int extract_media_chunks(struct db *db, const char *media_id, json_t **chunks);

/* Which of lines[0..n) (the transcript lines or messages a chunk was made of) fact came from:
 * those sharing the most content words (word keys, stop words aside) with it, and any sharing at
 * least half as many; picked[i] set to 1 or 0. Returns how many: 0 when no line shares a word
 * (a fact the model put in its own words: the caller cites the whole chunk). */
int extract_fact_lines(const char *fact, const char *const *lines, int n, int *picked);

/* Asks the configured model for the facts chunk states about avatar_name and, into *traits (when
 * traits is not NULL; extract_parse_traits's array, set whenever the model answered), what it shows
 * of their personality. DP_ERR_UNAVAILABLE (and the model's other errors) with why;
 * DP_ERR_INVALID when its answer holds no facts. */
int extract_facts(const char *avatar_name, const char *chunk, json_t **facts, json_t **traits, char *why,
                  size_t whylen);

/* Applies one candidate fact ({text, importance}) to avatar_id's memories (see above); a fact
 * added cites source (NULL: none; a recording's span it was heard in); may_add(ctx) (NULL:
 * always) is asked before a memory is added (a quota) and its error returned. */
struct memory_source;
int extract_apply(struct db *db, const char *avatar_id, json_t *fact, const struct memory_source *source,
                  int (*may_add)(void *ctx), void *ctx, enum extract_action *did);

#endif
