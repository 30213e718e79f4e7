/* What domain code works with, built the same way by an HTTP request (api_env), a job and a
 * long-lived session: the engines of the thread it runs on and the facts of who asks and from
 * where. Opaque pointers only: core knows no engine or domain type. */
#ifndef DP_CONTEXT_H
#define DP_CONTEXT_H

struct db;
struct cache;
struct blob_store;
struct caller;

struct context {
    struct db *db;               /* this thread's connection */
    struct cache *cache;         /* cached copies (evictable) */
    struct cache *security;      /* back-off, revocations, tickets: never evicted by cached copies */
    struct blob_store *blobs;    /* shared, thread-safe */
    const struct caller *caller; /* who asks (NULL: a visitor, a job, the CLI) */
    const char *ip;              /* client address, for sessions and the audit log */
    const char *user_agent;
};

#endif
