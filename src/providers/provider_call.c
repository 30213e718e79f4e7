/* Calls to remote providers (see provider_call.h). */
#include "providers/provider_call.h"

#include <pthread.h>
#include <stdio.h>

#include "core/err.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "providers/circuit.h"

static struct metric *m_seconds;
static pthread_once_t metric_once = PTHREAD_ONCE_INIT;

static void metric_init(void)
{
    const char *l[] = {"provider"};
    m_seconds = metric_new(METRIC_HISTOGRAM, "doppel_provider_call_seconds", "time of calls to remote providers", 1,
                           l, NULL, 0);
}

int provider_call(const struct provider_call *pc, int (*fn)(void *arg), void *arg)
{
    pthread_once(&metric_once, metric_init);
    char name[160];
    snprintf(name, sizeof name, "%s:%s", pc->family, pc->name);
    struct circuit *c = circuit_get(name, pc->failures > 0 ? pc->failures : 5,
                                    pc->cooldown_ms > 0 ? pc->cooldown_ms : 30000);
    if (c && !circuit_allow(c))
        return DP_ERR_UNAVAILABLE;
    double t0 = time_mono();
    int err = fn(arg);
    const char *l[] = {name};
    metric_observe(m_seconds, l, time_mono() - t0);
    if (c)
        circuit_record(c, pc->healthy ? pc->healthy(err) : err == DP_OK);
    return err;
}
