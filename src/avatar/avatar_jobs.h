/* The background jobs of avatars and their media: deletion and ingestion. */
#ifndef DP_AVATAR_JOBS_H
#define DP_AVATAR_JOBS_H

/* Registers "avatar.delete" and "media.ingest" (before jobs_start). The handlers read and release
 * blobs in the store the runner hands them (job_ctx.blobs). */
void avatar_jobs_register(void);

#endif
