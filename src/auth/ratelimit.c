/* Rate limits on the cache's atomic token bucket. */
#include "auth/ratelimit.h"

#include <pthread.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/cache.h"

static struct metric *m_limited;

int ratelimit_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms)
{
    int err = cache_bucket_take(c, key, rate, burst, retry_ms);
    if (err == DP_ERR_RATE_LIMITED)
        return err;
    if (err)
        DP_LOG(LOG_WARN, "[ratelimit] cache error (%s): letting the request through", dp_strerror(err));
    return DP_OK;
}

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    const char *l[] = {"scope"};
    m_limited =
        metric_new(METRIC_COUNTER, "doppel_rate_limited_total", "requests refused by a rate limit", 1, l, NULL, 0);
}

void ratelimit_count_refusal(const char *scope)
{
    pthread_once(&metrics_once, metrics_init); /* called from any worker */
    metric_add(m_limited, (const char *[]){scope}, 1);
}
