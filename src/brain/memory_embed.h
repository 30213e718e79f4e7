/* Vectors for memories: made right after a manual write, and by the memory.embed job for
 * everything else (ingested passages, imports, a change of model, a provider that was down). */
#ifndef DP_MEMORY_EMBED_H
#define DP_MEMORY_EMBED_H

#include "core/id.h"

struct db;

/* Gives memory_id (of avatar_id) its vector now; when the provider fails, queues the
 * memory.embed job instead. A no-op without an embedding provider. Never fails the write:
 * the memory is stored either way, and searchable by text meanwhile. */
void memory_embed_after_write(struct db *db, const char *avatar_id, const char *memory_id);

/* Queues the memory.embed job for avatar_id: at once after new memories were stored (fresh), else
 * at most once a minute per avatar and process (searches that meet missing vectors ask often).
 * A no-op without an embedding provider. */
void memory_embed_backfill(struct db *db, const char *avatar_id, int fresh);

/* At start: when any memory lacks a vector of the configured model (the model was changed, or
 * a provider configured for the first time), queues the memory.reembed job, which makes them all
 * (every avatar, with progress); its id into id_out ("" when nothing is queued). Until it is
 * done, search compares only vectors of the current model and finds the rest by text. */
int memory_embed_sweep(struct db *db, char id_out[ID_LEN]);

/* Registers the job kinds: memory.embed {"avatar_id"} → vectors for every memory of the avatar
 * that lacks one of the current model, 64 at a time; memory.reembed {"model"} → the same for
 * every avatar (memory_embed_sweep). */
void memory_embed_register(void);

#endif
