/* A growable byte buffer with a hard size cap. */
#ifndef DP_BUF_H
#define DP_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated after every append (not counted in len) */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    size_t max; /* appends that would exceed this fail with DP_ERR_TOO_LARGE; 0 = no cap */
};

void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);
/* Appends n bytes; DP_ERR_TOO_LARGE past b->max, DP_ERR_NOMEM; b unchanged on error. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free() it) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
