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

int worker_cache(struct worker *w, struct cache **out)
{
    if (!w)
        return DP_ERR_INTERNAL;
    if (!w->cache) {
        int err = cache_open(&w->cache, w->app->cfg.redis_url);
        if (err) {
            w->cache = NULL;
            return DP_ERR_UNAVAILABLE;
        }
    }
    *out = w->cache;
    return DP_OK;
}
