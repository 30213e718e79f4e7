/* The router: matches method + path against the route tables, extracting {params}. */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include "net/http.h"

struct router;

/* Builds a router over tables (each terminated by a row with method == NULL). */
int router_new(struct router **out, const struct route *const *tables, int ntables);
void router_free(struct router *r);

enum router_result { ROUTER_MATCH, ROUTER_NO_PATH, ROUTER_NO_METHOD };

/* Matches; on ROUTER_MATCH *route is set and req params filled (values point into path_buf,
 * a mutable copy of the raw, undecoded path the caller owns; each value is percent-decoded in
 * place after the match). On ROUTER_NO_METHOD, allow receives the
 * allowed methods ("GET, POST"). HEAD matches GET routes. */
enum router_result router_match(const struct router *r, const char *method, char *path_buf, const struct route **route,
                                struct request *req, char *allow, size_t allowlen);

/* Calls fn for every route, in table order (for the OpenAPI document). */
void router_each(const struct router *r, void (*fn)(const struct route *rt, void *arg), void *arg);

#endif
