/* Fault injection for tests: "fail the Nth call" at one of the places where state is written —
 * database writes (INSERT, UPDATE, DELETE, COMMIT), blob writes and commits, cache writes — so
 * that a test can walk N over a write path and check that each failure is a clean error that
 * leaves nothing half-written. Armed only through the --test-routes route POST /api/v1/_test/fault;
 * disarmed, a check costs one relaxed atomic load. */
#ifndef DP_FAULT_H
#define DP_FAULT_H

enum fault_site { FAULT_DB_WRITE, FAULT_BLOB_WRITE, FAULT_CACHE_WRITE, FAULT_SITES };

/* Makes the nth call at site from now on fail (1 = the next one), once; 0 disarms the site. */
void fault_arm(enum fault_site site, long nth);

/* Counts a call at site; 1 when it is the one to fail. Thread-safe. */
int fault_hit(enum fault_site site);

/* Calls counted at site since it was last armed, and whether its fault fired. */
long fault_calls(enum fault_site site, int *fired);

/* "db" | "blob" | "cache" → site; -1 when unknown. */
int fault_site_parse(const char *name);

#endif
