/* The memory.extract job: after a text or document is ingested, the language model turns its
 * passages into fact memories of the avatar (brain/extract.h). Off unless --llm-extract is set and
 * a model is configured. */
#ifndef DP_EXTRACT_JOB_H
#define DP_EXTRACT_JOB_H

#include <jansson.h>
#include <stddef.h>

struct db;

/* Registers the job kind; enabled: whether ingestion queues it. Before jobs start. */
void extract_job_register(int enabled);

/* Queues the extraction of media_id (of avatar_id) when it is enabled and a model is configured;
 * DP_OK and nothing queued otherwise. */
int extract_job_enqueue(struct db *db, const char *avatar_id, const char *media_id);

/* 1 when --llm-extract is set and a model is configured. */
int extract_job_enabled(void);

/* What an extraction did with the facts it was given. */
struct extract_count {
    int added, updated, same; /* facts */
    int traits;               /* pieces of personality evidence stored */
};

/* Narrows a fact's source (a copy of the chunk's) to the lines it came from. */
struct memory_source;
typedef void (*extract_cite_fn)(void *arg, const char *fact, struct memory_source *src);

/* Applies facts (brain/extract.h's [{text, importance}]) to avatar_id's memories within the
 * owner's memory quota, each citing source (may be NULL) as cite(cite_arg, …) narrows it (cite
 * may be NULL), counted into count. DP_ERR_QUOTA with msg when the quota stopped it (the facts
 * before stay). */
int extract_job_apply(struct db *db, const char *avatar_id, json_t *facts, const struct memory_source *source,
                      extract_cite_fn cite, void *cite_arg, struct extract_count *count, char *msg, size_t msglen);

/* Stores the personality evidence traits (extract_facts's; may be NULL) of avatar_id, read from
 * source, counted into count (avatar/personality_evidence.h). */
int extract_job_traits(struct db *db, const char *avatar_id, json_t *traits, const struct memory_source *source,
                       struct extract_count *count);

/* The end of an extraction job over what (media, conversation) id: the avatar's cache forgotten
 * when something changed, the counts logged, a quota error given its job message. Returns err. */
struct job_ctx;
int extract_job_finish(struct job_ctx *ctx, const char *avatar_id, const char *what, const char *id,
                       const struct extract_count *count, int err, const char *quota_msg, char **error_msg);

#endif
