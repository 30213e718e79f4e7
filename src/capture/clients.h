/* The devices connected to this process and the recordings they hold, so that a recording is
 * written by one session at a time and never closed under a writer. Thread-safe (one mutex). */
#ifndef DP_CLIENTS_H
#define DP_CLIENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct client_entry;

/* Registers a connected device. DP_ERR_CONFLICT when client_id is connected already. */
int clients_add(const char *user_id, const char *client_id, const char *device, int opus, struct client_entry **out);
void clients_remove(struct client_entry *e);

/* The session of e starts writing recording id: DP_ERR_CONFLICT while someone closes it. */
int clients_claim(struct client_entry *e, const char *id);
void clients_unclaim(struct client_entry *e);
/* What is durable of e's recording (for the active-clients list). */
void clients_progress(struct client_entry *e, uint64_t bytes, int64_t seq);
/* 1 once when a close was requested for e's recording. */
int clients_take_close_request(struct client_entry *e);

/* Someone outside the writing session wants to close recording id: 1 when a session holds it
 * (then, with ask, it is asked to close it itself), 0 when the caller may close it (end with
 * clients_end_close), -1 when another closer is at it. */
int clients_begin_close(const char *id, int ask);
void clients_end_close(const char *id);

json_t *clients_json(const char *user_id);

/* The shared-state key (capture/devices.h) of e's device and its state as clients_json shows it. */
void clients_entry_key(const struct client_entry *e, char *key, size_t cap);
json_t *clients_entry_json(struct client_entry *e);
/* The id of e's connection (a device reconnecting is another): whose shared state a key holds. */
const char *clients_entry_session(const struct client_entry *e);
/* 1 (and the time noted) when e's state was last published more than ms ago. */
int clients_publish_due(struct client_entry *e, int64_t ms);
/* [{key, session, state}] of every device connected to this process (the shared state's heartbeat). */
json_t *clients_snapshot(void);

#endif
