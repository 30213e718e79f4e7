/* Recordings of device audio: their rows, closing one into the blob store (a WAV), listing them,
 * and recovery at start. Blocking (database, files): workers and jobs only. */
#ifndef DP_RECORDING_H
#define DP_RECORDING_H

#include <jansson.h>
#include <stdint.h>

#include "core/id.h"

struct context;
struct db;

#define CLIENT_ID_MAX 80 /* "<6-char user suffix>-<device name of at most 64>" */

/* What a recording is: kept by the session that writes it. */
struct recording {
    char id[ID_LEN];
    char user_id[ID_LEN];
    char client_id[CLIENT_ID_MAX + 1];
    char device_name[65];
    int opus;            /* the device sent Opus (stored decoded, PCM16) */
    int batch;           /* a back-fill: started_at is the device's clock */
    long rate, channels; /* of the stored PCM16 */
    int64_t started_ms;
};

/* The open recording of rec->user_id + client_id that a new stream of rec's format and mode
 * continues (a batch back-fill: the same started_ms): fills rec->id and started_ms.
 * DP_ERR_NOT_FOUND when there is none. */
int recording_find_open(struct db *db, struct recording *rec);
/* A new open recording (id chosen here). */
int recording_create(struct db *db, struct recording *rec);

/* Closes the open recording id: its audio (from <dir>/<id>.pcm, recovered to its last sync) goes
 * to the blob store as a WAV, the row records it, the local files go. reason: audio-stop |
 * request | idle | replaced. DP_ERR_NOT_FOUND when it is not open (already closed). Safe to
 * repeat after a crash at any point. */
int recording_close(const struct context *e, const char *dir, const char *id, const char *reason);

/* The open recordings idle for idle_s seconds or more (their file untouched) that no session
 * writes and no one else closes (capture/clients.h): closed with reason idle. user_id NULL:
 * everyone's, and also removes files whose recording is closed or gone (a crash between the
 * close and the unlink). */
int recording_sweep(const struct context *e, const char *dir, const char *user_id, long idle_s, int *closed);

/* The caller's recordings, newest first; a page after id `after`. */
int recording_list_json(struct db *db, const char *dir, const char *user_id, const char *after, long limit,
                        json_t **items);
/* One of the user's recordings; DP_ERR_NOT_FOUND for anyone else's. */
int recording_get_json(struct db *db, const char *dir, const char *user_id, const char *id, json_t **out);

#endif
