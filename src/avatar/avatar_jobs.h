/* The background jobs of avatars and their media: deletion and ingestion. */
#ifndef DP_AVATAR_JOBS_H
#define DP_AVATAR_JOBS_H

struct blob_store;

/* Registers "avatar.delete" and "media.ingest" (before jobs_start). bs is the blob store
 * the handlers read and release blobs in; it must outlive the job workers. */
void avatar_jobs_register(struct blob_store *bs);

#endif
