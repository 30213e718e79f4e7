/* Unit tests of the streaming multipart/form-data parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "core/buf.h"
#include "core/err.h"
#include "net/multipart.h"

struct collect {
    int parts, ends;
    char names[8][128], files[8][256];
    struct buf data[8];
};

static int on_begin(void *arg, const struct multipart_part *p)
{
    struct collect *c = arg;
    strcpy(c->names[c->parts], p->name);
    strcpy(c->files[c->parts], p->filename);
    buf_init(&c->data[c->parts], 0);
    c->parts++;
    return DP_OK;
}

static int on_data(void *arg, const char *p, size_t n)
{
    struct collect *c = arg;
    return buf_append(&c->data[c->parts - 1], p, n);
}

static int on_end(void *arg)
{
    ((struct collect *)arg)->ends++;
    return DP_OK;
}

static const struct multipart_cb cbs = {on_begin, on_data, on_end};

static const char body[] = "preamble\r\n--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
                           "Hello\r\n--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n"
                           "Content-Type: text/plain\r\n\r\n"
                           "line one\r\n--XyYnot a delimiter\r\nline two\r\n--XyZ--\r\nepilogue";

/* Feeds body in pieces of `step` bytes; every split point must give the same result. */
static void parse_in_steps(size_t step)
{
    struct collect c;
    memset(&c, 0, sizeof c);
    struct multipart *m;
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data; boundary=XyZ", &cbs, &c), DP_OK);
    size_t n = sizeof body - 1;
    for (size_t at = 0; at < n; at += step)
        CHECK_EQ_INT(multipart_feed(m, body + at, at + step > n ? n - at : step), DP_OK);
    CHECK_EQ_INT(multipart_finish(m), DP_OK);
    CHECK_EQ_INT(c.parts, 2);
    CHECK_EQ_INT(c.ends, 2);
    CHECK_EQ_STR(c.names[0], "title");
    CHECK_EQ_STR(c.data[0].data, "Hello");
    CHECK_EQ_STR(c.names[1], "file");
    CHECK_EQ_STR(c.files[1], "a b.txt");
    CHECK_EQ_STR(c.data[1].data, "line one\r\n--XyYnot a delimiter\r\nline two");
    multipart_free(m);
    for (int i = 0; i < c.parts; i++)
        buf_cleanup(&c.data[i]);
}

TEST(multipart_every_chunking_gives_the_same_parts)
{
    for (size_t step = 1; step <= sizeof body; step++)
        parse_in_steps(step);
}

TEST(multipart_rejects_bad_input)
{
    struct collect c;
    memset(&c, 0, sizeof c);
    struct multipart *m;
    CHECK_EQ_INT(multipart_new(&m, "application/json", &cbs, &c), DP_ERR_INVALID);
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data", &cbs, &c), DP_ERR_INVALID);
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data; boundary=\"\"", &cbs, &c), DP_ERR_INVALID);
    /* Truncated: no closing delimiter. */
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data; boundary=\"q\"", &cbs, &c), DP_OK);
    const char *t = "--q\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc";
    CHECK_EQ_INT(multipart_feed(m, t, strlen(t)), DP_OK);
    CHECK_EQ_INT(multipart_finish(m), DP_ERR_INVALID);
    multipart_free(m);
    for (int i = 0; i < c.parts; i++)
        buf_cleanup(&c.data[i]);
    /* Headers without a colon, and endless headers. */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data; boundary=q", &cbs, &c), DP_OK);
    t = "--q\r\nbroken header\r\n\r\n";
    CHECK_EQ_INT(multipart_feed(m, t, strlen(t)), DP_ERR_INVALID);
    multipart_free(m);
    CHECK_EQ_INT(multipart_new(&m, "multipart/form-data; boundary=q", &cbs, &c), DP_OK);
    char *big = malloc(MULTIPART_HEADERS_MAX * 2);
    memset(big, 'a', MULTIPART_HEADERS_MAX * 2);
    CHECK_EQ_INT(multipart_feed(m, "--q\r\nX: ", 8), DP_OK);
    CHECK_EQ_INT(multipart_feed(m, big, MULTIPART_HEADERS_MAX * 2), DP_ERR_TOO_LARGE);
    free(big);
    multipart_free(m);
}
