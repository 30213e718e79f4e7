/* TEMPORARY (removed when src/jobs/queue.c lands): weak stand-ins so the tree links while the
 * job queue is being written. They refuse rather than pretend. */
#include "core/err.h"
#include "jobs/jobs.h"

__attribute__((weak)) int job_enqueue(struct db *db, const char *kind, const json_t *payload, const char *owner_id,
                                      const char *org_id, char id_out[ID_LEN])
{
    (void)db, (void)kind, (void)payload, (void)owner_id, (void)org_id, (void)id_out;
    return DP_ERR_NOT_IMPLEMENTED;
}

__attribute__((weak)) int job_get_json(struct db *db, const char *id, json_t **out, char owner_out[ID_LEN],
                                       char org_out[ID_LEN])
{
    (void)db, (void)id, (void)out, (void)owner_out, (void)org_out;
    return DP_ERR_NOT_IMPLEMENTED;
}
