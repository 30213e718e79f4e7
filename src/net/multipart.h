/* A streaming multipart/form-data parser (RFC 7578): parts are delivered as they arrive, so
 * an upload of any size passes through a buffer of one chunk plus one delimiter. */
#ifndef DP_MULTIPART_H
#define DP_MULTIPART_H

#include <stddef.h>

#define MULTIPART_HEADERS_MAX 8192 /* bytes of one part's headers */
#define MULTIPART_PARTS_MAX 64

struct multipart_part {
    char name[128];         /* form field name ("" when absent) */
    char filename[256];     /* "" when the part is not a file */
    char content_type[128]; /* the client's word, for information only */
};

/* Callbacks return DP_OK to go on, or an error that multipart_feed returns. */
struct multipart_cb {
    int (*part_begin)(void *arg, const struct multipart_part *part);
    int (*data)(void *arg, const char *p, size_t n);
    int (*part_end)(void *arg);
};

struct multipart;

/* From a Content-Type header value; DP_ERR_INVALID when it is not multipart/form-data with a
 * valid boundary (1–70 characters). */
int multipart_new(struct multipart **out, const char *content_type, const struct multipart_cb *cb, void *arg);
/* Feeds the next bytes. DP_ERR_INVALID on malformed input, DP_ERR_TOO_LARGE when part headers
 * or the part count exceed their caps, or a callback's error. */
int multipart_feed(struct multipart *m, const char *p, size_t n);
/* DP_OK when the closing delimiter was seen; DP_ERR_INVALID when the body ended early. */
int multipart_finish(struct multipart *m);
void multipart_free(struct multipart *m);

#endif
