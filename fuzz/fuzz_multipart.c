/* libFuzzer target: the streaming multipart parser, fed the input in two pieces split at a
 * point chosen by the input; the parts seen must not depend on the split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "net/multipart.h"

struct tally {
    size_t parts, bytes;
};

static int on_begin(void *arg, const struct multipart_part *p)
{
    (void)p;
    ((struct tally *)arg)->parts++;
    return DP_OK;
}

static int on_data(void *arg, const char *p, size_t n)
{
    (void)p;
    ((struct tally *)arg)->bytes += n;
    return DP_OK;
}

static const struct multipart_cb cbs = {on_begin, on_data, NULL};

static int parse(const uint8_t *d, size_t n, size_t split, struct tally *t)
{
    struct multipart *m;
    if (multipart_new(&m, "multipart/form-data; boundary=b0undary", &cbs, t))
        abort();
    int err = multipart_feed(m, (const char *)d, split);
    if (!err)
        err = multipart_feed(m, (const char *)d + split, n - split);
    if (!err)
        err = multipart_finish(m);
    multipart_free(m);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % size;
    struct tally a = {0, 0}, b = {0, 0};
    int ea = parse(data + 1, size - 1, 0, &a);
    int eb = parse(data + 1, size - 1, split > size - 1 ? size - 1 : split, &b);
    if (ea != eb || (!ea && (a.parts != b.parts || a.bytes != b.bytes)))
        abort();
    return 0;
}
