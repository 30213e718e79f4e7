/* Metrics registry and Prometheus text rendering. */
#include "core/metrics.h"

#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"

static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

#define SERIES_BUCKETS 256 /* hash slots per family: a request's lookup is O(1), not a list walk */

struct series {
    char *labels[METRIC_MAX_LABELS];
    uint64_t hash;        /* of the label values */
    struct series *hnext; /* hash chain */
    double value;         /* counter/gauge value, histogram sum */
    double count;         /* histogram observations */
    double *bucket_n;     /* histogram: per-bucket (non-cumulative) counts */
    struct series *next;
};

struct metric {
    enum metric_kind kind;
    char *name, *help;
    int nlabels;
    char *label_names[METRIC_MAX_LABELS];
    double *buckets;
    int nbuckets;
    int nseries;
    struct series *head, *last;
    struct series *slots[SERIES_BUCKETS];
    pthread_mutex_t lock;
    struct metric *next;
};

struct collector {
    void (*fn)(void *);
    void *arg;
    struct collector *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families, **families_tail = &families;
static struct collector *collectors;

struct metric *metric_new(enum metric_kind kind, const char *name, const char *help, int nlabels,
                          const char *const *label_names, const double *buckets, int nbuckets)
{
    DP_ASSERT(nlabels >= 0 && nlabels <= METRIC_MAX_LABELS);
    struct metric *m = calloc(1, sizeof *m);
    DP_ASSERT(m);
    m->kind = kind;
    m->name = strdup(name);
    m->help = strdup(help);
    m->nlabels = nlabels;
    for (int i = 0; i < nlabels; i++)
        m->label_names[i] = strdup(label_names[i]);
    if (kind == METRIC_HISTOGRAM) {
        if (!buckets) {
            buckets = default_buckets;
            nbuckets = (int)(sizeof default_buckets / sizeof default_buckets[0]);
        }
        m->buckets = malloc(sizeof(double) * (size_t)nbuckets);
        DP_ASSERT(m->buckets);
        memcpy(m->buckets, buckets, sizeof(double) * (size_t)nbuckets);
        m->nbuckets = nbuckets;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_lock(&registry_lock);
    *families_tail = m;
    families_tail = &m->next;
    pthread_mutex_unlock(&registry_lock);
    return m;
}

/* Finds or creates the series for labels; m->lock must be held. NULL only when out of memory. */
static uint64_t labels_hash(const struct metric *m, const char *const *labels)
{
    uint64_t h = HASH_FNV64_INIT; /* FNV-1a over the values, 0xff between them */
    for (int i = 0; i < m->nlabels; i++) {
        for (const char *p = labels[i] ? labels[i] : ""; *p; p++)
            h = hash_fnv1a64_add(h, (unsigned char)*p);
        h = hash_fnv1a64_add(h, 0xff);
    }
    return h;
}

static struct series *series_get(struct metric *m, const char *const *labels)
{
    uint64_t h = labels_hash(m, labels);
    for (struct series *s = m->slots[h % SERIES_BUCKETS]; s; s = s->hnext) {
        if (s->hash != h)
            continue;
        int i = 0;
        while (i < m->nlabels && !strcmp(s->labels[i], labels[i] ? labels[i] : ""))
            i++;
        if (i == m->nlabels)
            return s;
    }
    if (m->nseries >= METRIC_MAX_SERIES)
        return m->last; /* bounded memory beats exactness for a runaway label */
    struct series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (int i = 0; i < m->nlabels; i++)
        s->labels[i] = strdup(labels[i] ? labels[i] : "");
    if (m->kind == METRIC_HISTOGRAM)
        s->bucket_n = calloc((size_t)m->nbuckets, sizeof(double));
    s->hash = h;
    s->hnext = m->slots[h % SERIES_BUCKETS];
    m->slots[h % SERIES_BUCKETS] = s;
    /* Appending keeps output order stable, which makes scrapes diff-friendly. */
    if (m->last)
        m->last->next = s;
    else
        m->head = s;
    m->last = s;
    m->nseries++;
    return s;
}

void metric_add(struct metric *m, const char *const *labels, double v)
{
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, labels);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&m->lock);
}

void metric_set(struct metric *m, const char *const *labels, double v)
{
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, labels);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->lock);
}

void metric_observe(struct metric *m, const char *const *labels, double v)
{
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, labels);
    if (s && s->bucket_n) {
        s->value += v;
        s->count += 1;
        for (int i = 0; i < m->nbuckets; i++)
            if (v <= m->buckets[i]) {
                s->bucket_n[i] += 1;
                break;
            }
    }
    pthread_mutex_unlock(&m->lock);
}

double metric_value(struct metric *m, const char *const *labels)
{
    double v = 0;
    pthread_mutex_lock(&m->lock);
    for (struct series *s = m->head; s; s = s->next) {
        int i = 0;
        while (i < m->nlabels && !strcmp(s->labels[i], labels[i]))
            i++;
        if (i == m->nlabels) {
            v = m->kind == METRIC_HISTOGRAM ? s->count : s->value;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return v;
}

void metrics_on_collect(void (*fn)(void *arg), void *arg)
{
    struct collector *c = calloc(1, sizeof *c);
    DP_ASSERT(c);
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&registry_lock);
    c->next = collectors;
    collectors = c;
    pthread_mutex_unlock(&registry_lock);
}

void metrics_off_collect(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&registry_lock);
    for (struct collector **c = &collectors; *c; c = &(*c)->next)
        if ((*c)->fn == fn && (*c)->arg == arg) {
            struct collector *gone = *c;
            *c = gone->next;
            free(gone);
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

static int put_escaped(struct buf *out, const char *s, int is_help)
{
    int err = DP_OK;
    for (; *s && !err; s++) {
        if (*s == '\\')
            err = buf_append(out, "\\\\", 2);
        else if (*s == '\n')
            err = buf_append(out, "\\n", 2);
        else if (*s == '"' && !is_help)
            err = buf_append(out, "\\\"", 2);
        else
            err = buf_append(out, s, 1);
    }
    return err;
}

static int put_number(struct buf *out, double v)
{
    if (isinf(v))
        return buf_printf(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return buf_printf(out, "%.0f", v);
    return buf_printf(out, "%.9g", v);
}

/* Writes name{labels[,le="x"]} value\n. */
static int put_sample(struct buf *out, const struct metric *m, const char *suffix, const struct series *s,
                      const char *le, double v)
{
    int err = buf_printf(out, "%s%s", m->name, suffix);
    if (!err && (m->nlabels || le)) {
        err = buf_append(out, "{", 1);
        for (int i = 0; i < m->nlabels && !err; i++) {
            err = buf_printf(out, "%s%s=\"", i ? "," : "", m->label_names[i]);
            if (!err)
                err = put_escaped(out, s->labels[i], 0);
            if (!err)
                err = buf_append(out, "\"", 1);
        }
        if (!err && le)
            err = buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
        if (!err)
            err = buf_append(out, "}", 1);
    }
    if (!err)
        err = buf_append(out, " ", 1);
    if (!err)
        err = put_number(out, v);
    if (!err)
        err = buf_append(out, "\n", 1);
    return err;
}

static int render_family(struct buf *out, struct metric *m)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    int err = buf_printf(out, "# HELP %s ", m->name);
    if (!err)
        err = put_escaped(out, m->help, 1);
    if (!err)
        err = buf_printf(out, "\n# TYPE %s %s\n", m->name, types[m->kind]);
    pthread_mutex_lock(&m->lock);
    for (struct series *s = m->head; s && !err; s = s->next) {
        if (m->kind != METRIC_HISTOGRAM) {
            err = put_sample(out, m, "", s, NULL, s->value);
            continue;
        }
        double cum = 0;
        for (int i = 0; i < m->nbuckets && !err; i++) {
            char le[32];
            cum += s->bucket_n[i];
            snprintf(le, sizeof le, "%g", m->buckets[i]);
            err = put_sample(out, m, "_bucket", s, le, cum);
        }
        if (!err)
            err = put_sample(out, m, "_bucket", s, "+Inf", s->count);
        if (!err)
            err = put_sample(out, m, "_sum", s, NULL, s->value);
        if (!err)
            err = put_sample(out, m, "_count", s, NULL, s->count);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

int metrics_render(struct buf *out)
{
    pthread_mutex_lock(&registry_lock);
    struct collector *cs = collectors;
    struct metric *fs = families;
    pthread_mutex_unlock(&registry_lock);
    for (struct collector *c = cs; c; c = c->next)
        c->fn(c->arg);
    int err = DP_OK;
    for (struct metric *m = fs; m && !err; m = m->next)
        err = render_family(out, m);
    return err;
}
