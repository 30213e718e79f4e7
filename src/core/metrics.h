/* The metrics registry: counters, gauges and histograms with labels, in Prometheus text format. */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include "core/buf.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRIC_MAX_LABELS 4
#define METRIC_MAX_SERIES 4096 /* per family; later label sets fold into the last one seen */

struct metric; /* a family: one name, one kind, fixed label names; thread-safe */

/* Registers a family. label_names: nlabels names (may be NULL when 0). buckets: ascending upper
 * bounds for histograms (NULL = default latency buckets in seconds). Never freed (process lifetime). */
struct metric *metric_new(enum metric_kind kind, const char *name, const char *help, int nlabels,
                          const char *const *label_names, const double *buckets, int nbuckets);
/* labels: nlabels values (NULL when the family has none). */
void metric_add(struct metric *m, const char *const *labels, double v);     /* counter/gauge += v */
void metric_set(struct metric *m, const char *const *labels, double v);     /* gauge = v */
void metric_observe(struct metric *m, const char *const *labels, double v); /* histogram */
/* Reads a series' value (counter/gauge) or count (histogram); 0 when absent. For tests. */
double metric_value(struct metric *m, const char *const *labels);

/* fn runs before every render (refresh gauges computed on demand, e.g. queue depth). */
void metrics_on_collect(void (*fn)(void *arg), void *arg);
/* Removes a collector added with metrics_on_collect (same fn and arg); nothing when absent. */
void metrics_off_collect(void (*fn)(void *arg), void *arg);
/* Renders every family in Prometheus text exposition format 0.0.4. */
int metrics_render(struct buf *out);

#endif
