/* Logging: readable text in a terminal, one JSON object a line with --log-format json. */
#ifndef DP_LOG_H
#define DP_LOG_H

#include <stdio.h>
#include <stdlib.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

extern int log_min_level; /* messages below this level are skipped before formatting */

/* Configure output: json != 0 for one JSON object per line; level is the minimum. */
void log_setup(int json, enum log_level level);
/* Parse "debug"|"info"|"warn"|"error"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* The request id logged with every line from this thread (NULL for none). Copied. */
void log_set_request_id(const char *rid);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define DP_LOG(level, ...)                                                                                             \
    do {                                                                                                               \
        if ((level) >= log_min_level)                                                                                  \
            log_write((level), __FILE__, __LINE__, __VA_ARGS__);                                                       \
    } while (0)

/* Always-on assert for programmer errors only; never for outside input. */
#define DP_ASSERT(x)                                                                                                   \
    do {                                                                                                               \
        if (!(x)) {                                                                                                    \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x);                                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#endif
