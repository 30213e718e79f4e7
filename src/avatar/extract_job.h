/* The memory.extract job: after a text or document is ingested, the language model turns its
 * passages into fact memories of the avatar (brain/extract.h). Off unless --llm-extract is set and
 * a model is configured. */
#ifndef DP_EXTRACT_JOB_H
#define DP_EXTRACT_JOB_H

struct db;

/* Registers the job kind; enabled: whether ingestion queues it. Before jobs start. */
void extract_job_register(int enabled);

/* Queues the extraction of media_id (of avatar_id) when it is enabled and a model is configured;
 * DP_OK and nothing queued otherwise. */
int extract_job_enqueue(struct db *db, const char *avatar_id, const char *media_id);

#endif
