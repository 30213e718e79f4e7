/* Application singletons and worker state accessors. */
#include "api/app.h"

#include "core/err.h"
#include "core/log.h"
#include "store/cache.h"
#include "store/db.h"

static struct app the_app;

struct app *app_get(void)
{
    return &the_app;
}

int worker_db(struct worker *w, struct db **out)
{
    if (!w)
        return DP_ERR_INTERNAL;
    if (!w->db) {
        int err = db_open(&w->db, w->app->database_url);
        if (err) {
            w->db = NULL;
            return DP_ERR_UNAVAILABLE;
        }
    }
    *out = w->db;
    return DP_OK;
}

/* The worker's handle of a cache space, opened on first use. */
static int worker_space(struct worker *w, struct cache **slot, enum cache_space space, struct cache **out)
{
    if (!w)
        return DP_ERR_INTERNAL;
    if (!*slot) {
        int err = cache_open_space(slot, w->app->cfg.redis_url, space);
        if (err) {
            *slot = NULL;
            return DP_ERR_UNAVAILABLE;
        }
    }
    *out = *slot;
    return DP_OK;
}

int worker_cache(struct worker *w, struct cache **out)
{
    return worker_space(w, w ? &w->cache : NULL, CACHE_SPACE_CACHED, out);
}

int worker_security(struct worker *w, struct cache **out)
{
    return worker_space(w, w ? &w->security : NULL, CACHE_SPACE_SECURITY, out);
}
