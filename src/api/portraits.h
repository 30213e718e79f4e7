/* Serving an avatar's portrait, shared by its own route and the legacy page's. */
#ifndef DP_API_PORTRAITS_H
#define DP_API_PORTRAITS_H

#include "core/context.h"
#include "net/http.h"

/* Answers the picture of avatar_id's portrait (?original=true: the image itself) with an ETag and
 * the given Cache-Control; 404 when it has none. The caller has checked who may see it. */
int portrait_send(struct request *req, struct response *res, struct context *e, const char *avatar_id,
                  const char *cache_control);

#endif
