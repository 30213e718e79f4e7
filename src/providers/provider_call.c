/* Calls to remote providers (see provider_call.h). */
#include "providers/provider_call.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/metrics.h"
#include "core/registry.h"
#include "core/timeutil.h"
#include "providers/circuit.h"

static struct metric *m_seconds;
static pthread_once_t metric_once = PTHREAD_ONCE_INIT;

static void metric_init(void)
{
    const char *l[] = {"provider"};
    m_seconds = metric_new(METRIC_HISTOGRAM, "doppel_provider_call_seconds", "time of calls to remote providers", 1, l,
                           NULL, 0);
}

/* Each provider's recent calls, for /api/v1/admin/stats: counts and the durations of the last
 * LATENCY_RING calls (percentiles of what an operator sees now, not since start). */
#define LATENCY_RING 128
#define PROVIDERS_MAX 32

struct provider_stats {
    char name[160];
    long long calls, failures;
    double last_ms;
    float ring[LATENCY_RING];
    int ring_n, ring_at;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct provider_stats stats[PROVIDERS_MAX];
static int nstats;

static void stats_record(const char *name, double ms, int ok)
{
    pthread_mutex_lock(&stats_lock);
    int i = 0;
    while (i < nstats && strcmp(stats[i].name, name))
        i++;
    if (i == nstats && nstats < PROVIDERS_MAX)
        snprintf(stats[nstats++].name, sizeof stats[i].name, "%s", name);
    if (i < nstats) {
        struct provider_stats *s = &stats[i];
        s->calls++;
        s->failures += !ok;
        s->last_ms = ms;
        s->ring[s->ring_at] = (float)ms;
        s->ring_at = (s->ring_at + 1) % LATENCY_RING;
        if (s->ring_n < LATENCY_RING)
            s->ring_n++;
    }
    pthread_mutex_unlock(&stats_lock);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

json_t *providers_json(void)
{
    json_t *o = json_object();
    json_t *states = circuits_json();
    pthread_mutex_lock(&stats_lock);
    for (int i = 0; i < nstats && o; i++) {
        struct provider_stats *s = &stats[i];
        float sorted[LATENCY_RING];
        memcpy(sorted, s->ring, sizeof(float) * (size_t)s->ring_n);
        qsort(sorted, (size_t)s->ring_n, sizeof(float), cmp_float);
        json_t *st = json_object_get(states, s->name);
        json_object_set_new(
            o, s->name,
            json_pack("{s:s,s:I,s:I,s:{s:f,s:f,s:f,s:i}}", "circuit", st ? json_string_value(st) : "closed", "calls",
                      (json_int_t)s->calls, "failures", (json_int_t)s->failures, "latency_ms", "last", s->last_ms,
                      "p50", s->ring_n ? sorted[s->ring_n / 2] : 0.0, "p95",
                      s->ring_n ? sorted[(s->ring_n * 95) / 100 < s->ring_n ? (s->ring_n * 95) / 100 : s->ring_n - 1]
                                : 0.0,
                      "window", s->ring_n));
    }
    pthread_mutex_unlock(&stats_lock);
    json_decref(states);
    return o;
}

char *provider_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    char *url;
    return asprintf(&url, "%.*s/%s", (int)n, base, path) < 0 ? NULL : url;
}

int provider_choose(const struct registry *r, const char *provider, const char *url, const char *model,
                    const struct backend **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (!provider || !*provider || !strcmp(provider, "none"))
        return DP_OK;
    const struct backend *b = registry_find(r, provider);
    if (!b) {
        int at = snprintf(msg, msglen, "%s-provider must be none", r->family);
        for (int i = 0; i < r->n && at >= 0 && (size_t)at < msglen; i++)
            at += snprintf(msg + at, msglen - (size_t)at, "%s%s", i + 1 < r->n ? ", " : " or ", r->rows[i]->name);
        if (at >= 0 && (size_t)at < msglen)
            snprintf(msg + at, msglen - (size_t)at, ", not \"%s\"", provider);
        return DP_ERR_INVALID;
    }
    if (!url || !*url || !model || !*model) {
        snprintf(msg, msglen, "%s-provider %s needs %s-url and %s-model", r->family, provider, r->family, r->family);
        return DP_ERR_INVALID;
    }
    *out = b;
    return DP_OK;
}

int provider_call(const struct provider_call *pc, int (*fn)(void *arg), void *arg)
{
    pthread_once(&metric_once, metric_init);
    char name[160];
    snprintf(name, sizeof name, "%s:%s", pc->family, pc->name);
    struct circuit *c =
        circuit_get(name, pc->failures > 0 ? pc->failures : 5, pc->cooldown_ms > 0 ? pc->cooldown_ms : 30000);
    if (c && !circuit_allow(c))
        return DP_ERR_UNAVAILABLE;
    double t0 = time_mono();
    int err = fn(arg);
    const char *l[] = {name};
    double secs = time_mono() - t0;
    metric_observe(m_seconds, l, secs);
    int ok = pc->healthy ? pc->healthy(err) : err == DP_OK;
    if (c)
        circuit_record(c, ok);
    stats_record(name, secs * 1000, ok);
    return err;
}
