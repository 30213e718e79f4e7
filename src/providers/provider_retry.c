/* The shared retry loop of remote providers (see provider_retry.h). */
#include "providers/provider_retry.h"

#include <time.h>

#include "core/err.h"

struct one {
    const struct provider_retry *pr;
    long retry_after_ms;
    int ran;
};

static int run_one(void *arg)
{
    struct one *o = arg;
    o->ran = 1;
    o->retry_after_ms = -1;
    return o->pr->attempt(o->pr->arg, &o->retry_after_ms);
}

static int may_pass(int err)
{
    return err == DP_ERR_UNAVAILABLE || err == DP_ERR_TIMEOUT || err == DP_ERR_RATE_LIMITED;
}

int provider_retry(const struct provider_retry *pr, int *ran)
{
    int err = DP_OK;
    *ran = 0;
    for (int k = 0; k < 2; k++) {
        struct one o = {pr, -1, 0};
        err = provider_call(pr->pc, run_one, &o);
        if (!o.ran)
            return err; /* the breaker is open */
        *ran = 1;
        if (!err || k || !may_pass(err) || (pr->again && !pr->again(pr->arg, err)))
            break;
        long wait = err == DP_ERR_RATE_LIMITED && o.retry_after_ms >= 0 ? o.retry_after_ms : PROVIDER_RETRY_PAUSE_MS;
        if (wait > pr->wait_max_ms)
            break; /* the fallback answers now rather than after a long wait */
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return err;
}
